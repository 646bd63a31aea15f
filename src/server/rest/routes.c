/*
 * routes.c — the REST API of docs/rest-api.md as one table. A new resource is a new
 * file under rest/ with its handlers (declared in rest.h) and its rows here.
 * Rows that share a pattern share its auth kind (tests/unit/test_router.c checks it):
 * the router authenticates a path before it says which methods it has. Every route
 * takes a JSON body of up to --max-http-body today (a GET's body is ignored, as
 * before); a streamed upload route will carry its own limit in bytes.
 */
#include "rest/router.h"

/* A JSON row: its body whole, up to --max-http-body; no head handler. */
#define J REST_BODY_JSON, NULL
#define APP REST_AUTH_APP

const rest_route rest_routes[] = {
    /* health.c */
    {HTTP_M_GET, "/healthz", REST_AUTH_NONE, health_get, J},
    {HTTP_M_GET, "/metrics", REST_AUTH_NONE, metrics_get, J},
    /* admin.c: apps and tokens */
    {HTTP_M_GET, "/admin/apps", REST_AUTH_ADMIN, admin_apps_list, J},
    {HTTP_M_POST, "/admin/apps", REST_AUTH_ADMIN, admin_apps_create, J},
    {HTTP_M_POST, "/{org}/{app}/token", REST_AUTH_APP_CREDS, app_token, J},
    {HTTP_M_POST, "/{org}/{app}/users/{user}/token", APP, user_token, J},
    /* settings.c: the app's settings (apps.h) */
    {HTTP_M_GET, "/{org}/{app}/settings", APP, settings_get, J},
    {HTTP_M_PUT, "/{org}/{app}/settings", APP, settings_put, J},
    /* moderation.c: the app's moderation keywords (hooks/moderation.h) */
    {HTTP_M_GET, "/{org}/{app}/moderation/keywords", APP, moderation_get, J},
    {HTTP_M_PUT, "/{org}/{app}/moderation/keywords", APP, moderation_put, J},
    {HTTP_M_POST, "/{org}/{app}/moderation/keywords", APP, moderation_post, J},
    {HTTP_M_DELETE, "/{org}/{app}/moderation/keywords", APP, moderation_delete, J},
    /* users.c */
    {HTTP_M_POST, "/{org}/{app}/users", APP, users_create, J},
    {HTTP_M_GET, "/{org}/{app}/users", APP, users_list, J},
    {HTTP_M_GET, "/{org}/{app}/users/{user}", APP, user_get, J},
    {HTTP_M_DELETE, "/{org}/{app}/users/{user}", APP, user_delete, J},
    {HTTP_M_GET, "/{org}/{app}/users/{user}/joined_chatgroups", APP, user_groups, J},
    /* friends.c (Easemob's contacts; the friend id is the {conv} segment) */
    {HTTP_M_GET, "/{org}/{app}/users/{user}/contacts/users", APP, friends_get, J},
    {HTTP_M_POST, "/{org}/{app}/users/{user}/contacts/users/{conv}", APP, friend_add, J},
    {HTTP_M_DELETE, "/{org}/{app}/users/{user}/contacts/users/{conv}", APP, friend_delete, J},
    /* conversations.c */
    {HTTP_M_GET, "/{org}/{app}/users/{user}/conversations", APP, user_conversations, J},
    {HTTP_M_GET, "/{org}/{app}/users/{user}/conversations/{conv}/messages", APP, user_history, J},
    /* groups.c */
    {HTTP_M_POST, "/{org}/{app}/chatgroups", APP, group_create, J},
    {HTTP_M_GET, "/{org}/{app}/chatgroups/{group}", APP, group_get, J},
    {HTTP_M_DELETE, "/{org}/{app}/chatgroups/{group}", APP, group_dismiss, J},
    {HTTP_M_GET, "/{org}/{app}/chatgroups/{group}/users", APP, group_members_get, J},
    {HTTP_M_POST, "/{org}/{app}/chatgroups/{group}/users", APP, group_members_add, J},
    {HTTP_M_POST, "/{org}/{app}/chatgroups/{group}/users/{user}", APP, group_member_add, J},
    {HTTP_M_DELETE, "/{org}/{app}/chatgroups/{group}/users/{user}", APP, group_member_remove, J},
    /* messages.c */
    {HTTP_M_POST, "/{org}/{app}/messages/users", APP, messages_send_users, J},
    {HTTP_M_POST, "/{org}/{app}/messages/chatgroups", APP, messages_send_groups, J},
    /* extensions.c: message extensions (the message id is the {conv} segment) */
    {HTTP_M_GET, "/{org}/{app}/messages/{conv}/extensions", APP, extensions_get, J},
    {HTTP_M_PUT, "/{org}/{app}/messages/{conv}/extensions", APP, extensions_put, J},
    {HTTP_M_DELETE, "/{org}/{app}/messages/{conv}/extensions", APP, extensions_delete, J},

    {HTTP_M_POST, "/{org}/{app}/stream_message/chatgroup", APP, stream_send_group, J},
    {HTTP_M_POST, "/{org}/{app}/stream_message/users", APP, stream_send_user, J},
    {HTTP_M_POST, "/{org}/{app}/stream_message/user", APP, stream_send_user, J},
    /* media.c: the body streams to disk (its limit is --media-max-bytes, checked by
     * the head handler) */
    {HTTP_M_POST, "/{org}/{app}/media", REST_AUTH_APP_USER, media_upload, REST_BODY_JSON, media_upload_head},
    {HTTP_M_POST, "/{org}/{app}/media/uploads", REST_AUTH_APP_USER, media_session_create, J},
    {HTTP_M_GET, "/{org}/{app}/media/uploads/{conv}", REST_AUTH_APP_USER, media_session_status, J},
    {HTTP_M_PUT, "/{org}/{app}/media/uploads/{conv}", REST_AUTH_APP_USER, media_upload, REST_BODY_JSON,
     media_session_put_head},
    /* media_auth.c decides who may read: a token, a signed URL or a share-secret */
    {HTTP_M_GET, "/{org}/{app}/media/{conv}", REST_AUTH_MEDIA, media_download, J},
    /* chatfiles.c: Easemob's multipart upload (streamed like media) and its download */
    {HTTP_M_POST, "/{org}/{app}/chatfiles", REST_AUTH_APP_USER, media_upload, REST_BODY_JSON, chatfiles_upload_head},
    {HTTP_M_GET, "/{org}/{app}/chatfiles/{conv}", REST_AUTH_MEDIA, chatfiles_download, J},
};

const size_t rest_nroutes = sizeof rest_routes / sizeof rest_routes[0];
