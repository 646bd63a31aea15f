/*
 * media_msg.h — completing a media message at send time (issue 9, "Messages").
 *
 * A client sends TIMImageElem, TIMSoundElem, TIMVideoFileElem or TIMFileElem naming media
 * ids of its app (core/elem.h: the client shapes, already validated and in canonical
 * form). Before the message is stored, msg.c calls media_msg_complete, which reads each
 * id's row with the caller's store reader (store_media_get) and writes the payload that is
 * stored, pushed and returned by history and sync (docs/protocol.md §4 "Media messages"):
 * sizes, imageFormat, animated, fileName (the app's, else the upload's), dimensions (the
 * app's override, else the header's), imageInfoArray with tern_img_fit's thumbnail sizes,
 * videoFormat, and signed URLs (media_url.h) valid until the media expires, so that a
 * recipient (or a browser) fetches them without a token.
 */
#ifndef TERN_MEDIA_MSG_H
#define TERN_MEDIA_MSG_H
#include <stdint.h>

#include "context.h"
#include "core/message.h"
#include "store/store.h"

/* Appends to out the stored payload of m (m->elem a media row, m->payload its canonical
 * client form) sent in app, looking the media ids up with rd; now_ms decides expiry.
 * Returns TERN_OK, or
 *   7006 TERN_ERR_MEDIA_NOT_FOUND  an id unknown in this app (another app's media is the
 *                                  same answer: no leak of its existence);
 *   7002 TERN_ERR_MEDIA_EXPIRED    an id past its expiry;
 *   7030 TERN_ERR_MEDIA_NOT_IMAGE  a TIMImageElem's uuid, or a video's snapshotUUID, that
 *                                  is not an image (no imageFormat read at upload);
 *   5002 TERN_ERR_STORE            the store failed; 5001 out of memory; 1003 a payload
 *                                  that is not the canonical form (never from elem.c).
 * On error out may hold a partial payload (the caller drops it). Thread-safe with the
 * caller's own reader. */
int media_msg_complete(server *s, store_reader *rd, int64_t app, const tern_msg *m, int64_t now_ms, tern_buf *out);

#endif
