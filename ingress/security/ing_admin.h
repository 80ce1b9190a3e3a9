/*
 * ing_admin.h - the admin routes (ADMIN_API_KEY; ing_sec.c enforces it for
 * every pattern under /admin/).
 *
 *   POST   /admin/keys                {name, rate_limits?:{second,minute,hour,day}}
 *                                     -> 201 {key, id, name, status, created_at, rate_limits}
 *                                     (the key is shown this once)
 *   GET    /admin/keys                -> {keys:[...]} (never the keys themselves)
 *   GET    /admin/keys/{id}           -> one key's record
 *   DELETE /admin/keys/{id}           revoke (final) -> {id, status:"revoked"}
 *   POST   /admin/keys/{id}/disable   -> {id, status:"disabled"}
 *   POST   /admin/keys/{id}/enable    -> {id, status:"active"} (409 when revoked)
 *   GET    /admin/stats/auth          authentication statistics
 *   GET    /admin/ratelimits          failed-auth windows and lock-outs per IP
 *   GET    /admin/events[?limit=N&type=T]  recent security events, newest first
 *
 * Handlers run on MHD threads like the others (ing_handlers.h).
 */
#ifndef ING_ADMIN_H
#define ING_ADMIN_H

#include "ing_http.h"

enum MHD_Result ing_h_admin_key_create(struct ing_request *req);
enum MHD_Result ing_h_admin_key_list(struct ing_request *req);
enum MHD_Result ing_h_admin_key_get(struct ing_request *req);
enum MHD_Result ing_h_admin_key_revoke(struct ing_request *req);
enum MHD_Result ing_h_admin_key_disable(struct ing_request *req);
enum MHD_Result ing_h_admin_key_enable(struct ing_request *req);
enum MHD_Result ing_h_admin_stats_auth(struct ing_request *req);
enum MHD_Result ing_h_admin_ratelimits(struct ing_request *req);
enum MHD_Result ing_h_admin_events(struct ing_request *req);

#endif
