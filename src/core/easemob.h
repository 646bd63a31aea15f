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
 *   ext (an object)                   <-> cloudCustomData (its JSON text)
 * img, audio, video and file wait for the media service (1008).
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
 *   1003 body not an object, a required field missing (txt msg, loc lat/lng, cmd action),
 *        of the wrong type or out of range (coordinates, customEvent not
 *        [a-zA-Z0-9-_/.]{1,32}, customExts not an object of at most 16 strings);
 *   1008 img, audio, video, file (the media issue) or a type Easemob does not have;
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
