/*
 * cluster_client.h: the C ABI of the cluster-client Rust crate (feature "ffi").
 *
 * Build the library on demand (it is not built by everyday cargo builds):
 *
 *   cargo rustc --lib --release --features ffi --crate-type cdylib
 *       -> target/release/libcluster_client.so   (or --crate-type staticlib:
 *          target/release/libcluster_client.a, link with -lpthread -ldl -lm)
 *
 * Conventions:
 *  - Functions return a CC_* code (CC_OK on success); cc_client_new returns
 *    NULL on failure.
 *  - Every function takes a last argument `CcError **err`. When it is not
 *    NULL, *err is set to a new error on failure (free it with
 *    cc_error_free) and to NULL on success. Pass NULL to get only the code.
 *  - Every other pointer argument is required (NULL is CC_NULL_POINTER).
 *    Strings are NUL-terminated UTF-8 (anything else is CC_INVALID_UTF8).
 *  - Every allocation returned has its free function; each free function
 *    accepts NULL and does nothing.
 *  - No Rust panic crosses into C: it is reported as CC_PANIC.
 *  - A client may be used from several threads at once, but not during or
 *    after cc_client_free.
 */
#ifndef CLUSTER_CLIENT_H
#define CLUSTER_CLIENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. */
enum {
    CC_OK = 0,               /* success */
    CC_INVALID_INPUT = 1,    /* bad host list, host, group id, or a host not in the client; nothing sent */
    CC_OPERATION_FAILED = 2, /* the operation failed on one or more nodes (the message names them) */
    CC_OTHER = 3,            /* the client was shut down, or another error */
    CC_NULL_POINTER = 4,     /* a required pointer argument was NULL */
    CC_INVALID_UTF8 = 5,     /* a string argument was not UTF-8 */
    CC_PANIC = 6             /* a bug inside the library was caught */
};

/* An error: a CC_* code and a message (never NULL). Free with cc_error_free. */
typedef struct CcError {
    int code;
    char *message;
} CcError;

/* An owned list of strings; items is NULL when len is 0.
 * Free with cc_string_list_free. */
typedef struct CcStringList {
    char **items;
    size_t len;
} CcStringList;

/* An opaque client handle. */
typedef struct CcClient CcClient;

/* A client for comma-separated node addresses, e.g.
 * "http://10.0.0.1:8000,http://10.0.0.2:8000", with the library's defaults
 * (3 attempts from 1 s, 60 s per operation). NULL on failure
 * (CC_INVALID_INPUT for an empty list or an invalid host). */
CcClient *cc_client_new(const char *hosts_csv, CcError **err);

/* Shuts the client down and frees it. */
void cc_client_free(CcClient *client);

/* Creates group `id` on every node, verified, or rolled back where this call
 * created it. CC_INVALID_INPUT for an invalid id (nothing sent),
 * CC_OPERATION_FAILED when a node failed (the message names it). */
int cc_create_group(const CcClient *client, const char *id, CcError **err);

/* Deletes group `id` on every node (a node without it counts as deleted).
 * On CC_OK and CC_OPERATION_FAILED, *failed_hosts is set to a new list of
 * the nodes where the delete failed (empty on CC_OK); otherwise it is set
 * to NULL. Free it with cc_string_list_free. */
int cc_delete_group(const CcClient *client, const char *id,
                    CcStringList **failed_hosts, CcError **err);

/* Whether node `host` (one of the client's nodes) holds group `id`: on CC_OK
 * *out_exists is 1 or 0. CC_INVALID_INPUT for an invalid host or id or a
 * host not in the client. */
int cc_verify_group(const CcClient *client, const char *host, const char *id,
                    int *out_exists, CcError **err);

/* Sets *out to a new list of the nodes currently considered healthy. */
int cc_healthy_nodes(const CcClient *client, CcStringList **out, CcError **err);

/* Sets *out to a new JSON string: an object keyed by node address, each
 * value with the fields curr_connections, connections_created,
 * connections_created_with_error, connections_purged, connections_closed,
 * operations_executed, operations_executed_with_error, operations_waited.
 * Free with cc_string_free. */
int cc_metrics_json(const CcClient *client, char **out, CcError **err);

/* Free functions; each accepts NULL. */
void cc_string_free(char *s);
void cc_string_list_free(CcStringList *list);
void cc_error_free(CcError *err);

#ifdef __cplusplus
}
#endif

#endif /* CLUSTER_CLIENT_H */
