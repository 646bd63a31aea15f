/*
 * easemob.h — Easemob's message types on Tern's message model, both ways, for the
 * Easemob-compatible REST sends (POST /messages/users, /messages/chatgroups) and for
 * anything that shows a stored message in Easemob's shape (an export).
 *
 * The mapping (docs/rest-api.md, "Messages"):
 *   txt    {msg}                      <-> TIMTextElem     {text: msg}
 *   loc    {lat, lng, addr}           <-> TIMLocationElem {description: addr, longitude: lng,
 *                                                          latitude: lat}
 *   custom {customEvent, customExts}  <-> TIMCustomElem   {data: customEvent,
 *                                                          description: "custom",
 *                                                          extension: JSON text of customExts or ""}
 *   cmd    {action}                   <-> TIMCustomElem   {data: action, description: "cmd",
 *                                                          extension: ""}
 *   img   {url, filename, secret, size:{width,height}}
 *                                     <-> TIMImageElem    {uuid: id of url, fileName: filename,
 *                                                          width, height (0: not set)}
 *   audio {url, filename, length, secret}
 *                                     <-> TIMSoundElem    {uuid, fileName, second: length}
 *   video {url, filename, thumb, length, file_length, thumb_secret, secret}
 *                                     <-> TIMVideoFileElem {videoUUID: id of url, fileName,
 *                                                          videoSecond: length,
 *                                                          snapshotUUID: id of thumb}
 *   file  {url, filename, secret}     <-> TIMFileElem     {uuid, fileName}
 *   ext (an object)                   <-> cloudCustomData (its JSON text)
 * A media url names a media id of the app: "/{org}/{app}/chatfiles/{uuid}" or
 * "/{org}/{app}/media/{id}", absolute ("http(s)://host/...") or not, with any query, or a
 * bare id; a dashed uuid (8-4-4-4-12) loses its dashes. The org/app of the path is not
 * compared: the id is looked up in the sender's app at send (media_msg.c, 7006).
 * secret, thumb_secret and file_length are informational (strings / an integer, checked
 * and dropped): recipients get signed URLs and the server knows the size. length and the
 * size's width/height are integers (a JSON number or a string of digits). Back, a
 * stored message gives the signed URLs, file_length = videoSize, and "" secrets (a
 * signed URL needs none).
 */
#ifndef TERN_CORE_EASEMOB_H
#define TERN_CORE_EASEMOB_H
#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/message.h"

/* Most customExts entries (Easemob: 16) and the customEvent pattern's longest match. */
#define TERN_EM_MAX_CUSTOM_EXTS 16
#define TERN_EM_MAX_CUSTOM_EVENT 32

/* Sets m->elem and appends the canonical payload of an Easemob `type` + `body` to
 * m->payload (m initialized by the caller; to, ccd and the rest are left alone).
 * Returns TERN_OK, or
 *   1003 body not an object, a required field missing (txt msg, loc lat/lng, cmd action,
 *        media url, audio/video length), of the wrong type or out of range (coordinates,
 *        customEvent not [a-zA-Z0-9-_/.]{1,32}, customExts not an object of at most 16
 *        strings, length over 86400, a url of none of the forms above);
 *   7006 a media url whose id is not of the id form (32 lower-case hex digits);
 *   1008 a type Easemob does not have;
 *   1012 a body key the type does not have (refused, never dropped);
 *   5001 out of memory. */
int tern_em_body_to_msg(const char *type, const cJSON *body, tern_msg *m);

/* Appends Easemob's {"type":..,"body":{..},"ext":{..}} of a message object as stored
 * and pushed (docs/protocol.md §6: type, payload, cloudCustomData). ext is the
 * cloudCustomData object; {} when it is empty; {"cloudCustomData":"<text>"} when it is
 * text that is not a JSON object (a WebSocket client's). A TIMCustomElem that no REST
 * send made (description neither "custom" nor "cmd") becomes custom with customEvent =
 * data and customExts {"description","extension"} (the non-empty ones); an empty data
 * gives no customEvent, so the body maps back as it came. Returns
 * TERN_OK, 1003 (not a message object) or 1008 (a type with no Easemob form); out is
 * unchanged on error. */
int tern_em_from_msg(const cJSON *msg, tern_buf *out);

#endif
