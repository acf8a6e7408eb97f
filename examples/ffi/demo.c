/*
 * demo.c: the cluster-client C ABI in use, every call of cluster_client.h.
 *
 *   demo HOSTS_CSV [CONFIG_FILE]
 *
 * Against the nodes in HOSTS_CSV: creates a group, verifies it on each node
 * and on every node at once, sends one request, deletes the group, lists
 * the nodes (all, healthy, unhealthy), prints the pool metrics as JSON and
 * the Prometheus text; then a group create that fails on an unreachable
 * node (showing the failed / rollback-failed / possible-orphan lists of the
 * error), a client from TOML text and one from CONFIG_FILE (when given),
 * the error paths (invalid id, invalid host, NULL argument, bad config),
 * a call on a handle whose cancel token was tripped, and a call after
 * cc_client_shutdown. Frees everything.
 * Exits 0 when every step went as expected, 1 otherwise, 2 on bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "cluster_client.h"

#define GROUP "demo-group"

/* An address nothing listens on (port 1 of loopback: refused at once). */
#define DEAD_HOST "http://127.0.0.1:1"

/* Prints and frees an error; returns 1 so callers can count failures. */
static int report(const char *what, int code, CcError *err) {
    fprintf(stderr, "%s failed: code %d: %s\n", what, code,
            err != NULL ? err->message : "(no message)");
    cc_error_free(err);
    return 1;
}

/* Prints "label a b c" for a list. */
static void print_list(const char *label, const CcStringList *list) {
    printf("%s", label);
    for (size_t i = 0; list != NULL && i < list->len; i++) {
        printf(" %s", list->items[i]);
    }
    printf("\n");
}

/* Splits a copy of the hosts CSV and verifies the group on each node.
 * Returns the number of failures (a node missing the group counts when
 * `want` is 1, a node holding it when `want` is 0). */
static int verify_each(const CcClient *client, const char *hosts_csv, int want) {
    char buf[4096];
    int failures = 0;
    if (strlen(hosts_csv) >= sizeof buf) {
        fprintf(stderr, "host list too long for this demo\n");
        return 1;
    }
    strcpy(buf, hosts_csv);
    for (char *host = strtok(buf, ","); host != NULL; host = strtok(NULL, ",")) {
        CcError *err = NULL;
        int exists = -1;
        int code = cc_verify_group(client, host, GROUP, &exists, &err);
        if (code != CC_OK) {
            failures += report("cc_verify_group", code, err);
            continue;
        }
        printf("verify %s %s: %s\n", GROUP, host, exists ? "present" : "missing");
        if (exists != want) {
            failures++;
        }
    }
    return failures;
}

/* Verifies the group on every node at once; counts nodes not in `want`. */
static int verify_everywhere(const CcClient *client, int want) {
    CcPresenceList *presence = NULL;
    CcError *err = NULL;
    int failures = 0;
    int code = cc_verify_group_everywhere(client, GROUP, &presence, &err);
    if (code != CC_OK) {
        return report("cc_verify_group_everywhere", code, err);
    }
    for (size_t i = 0; i < presence->len; i++) {
        const CcPresence *p = &presence->items[i];
        const char *state = p->state == CC_PRESENT   ? "present"
                            : p->state == CC_MISSING ? "missing"
                                                     : "unknown";
        printf("everywhere %s %s: %s%s%s\n", GROUP, p->host, state,
               p->error != NULL ? ": " : "", p->error != NULL ? p->error : "");
        if (p->state != want) {
            failures++;
        }
    }
    cc_presence_list_free(presence);
    return failures;
}

/* Prints one of the node lists. */
static int show_nodes(const char *label, int (*list_fn)(const CcClient *, CcStringList **, CcError **),
                      const CcClient *client) {
    CcStringList *list = NULL;
    CcError *err = NULL;
    int code = list_fn(client, &list, &err);
    if (code != CC_OK) {
        return report(label, code, err);
    }
    print_list(label, list);
    cc_string_list_free(list);
    return 0;
}

/* A request through the resolver: the node's server id. */
static int request_demo(const CcClient *client) {
    CcResponse *resp = NULL;
    CcError *err = NULL;
    int failures = 0;
    int code = cc_request(client, "GET", "/_admin/server/id", NULL, 0, &resp, &err);
    if (code != CC_OK) {
        return report("cc_request", code, err);
    }
    printf("request GET /_admin/server/id: %d from %s: %.*s\n", resp->status, resp->host,
           (int)resp->body_len, resp->body != NULL ? (const char *)resp->body : "");
    if (resp->status != 200) {
        failures++;
    }
    cc_response_free(resp);

    /* A body, and a status that is still an answer (the node has no such path). */
    static const char body[] = "{\"x\": 1}";
    code = cc_request(client, "POST", "/no/such/path", (const unsigned char *)body,
                      sizeof body - 1, &resp, &err);
    if (code != CC_OK) {
        return failures + report("cc_request", code, err);
    }
    printf("request POST /no/such/path: %d\n", resp->status);
    if (resp->status != 404) {
        failures++;
    }
    cc_response_free(resp);
    return failures;
}

/* A create that fails on an unreachable node: the error names it, and the
 * rollback leaves nothing behind on the reachable one. */
static int group_failure_demo(const char *first_host) {
    char toml[1024];
    CcError *err = NULL;
    int failures = 0;
    snprintf(toml, sizeof toml,
             "hosts = [\"%s\", \"" DEAD_HOST "\"]\n"
             "[retry]\nattempts = 1\n"
             "[timeouts]\nconnect = \"1s\"\noperation = \"5s\"\n",
             first_host);
    CcClient *client = cc_client_new_from_toml(toml, &err);
    if (client == NULL) {
        return report("cc_client_new_from_toml", err != NULL ? err->code : -1, err);
    }
    int code = cc_create_group(client, "demo-doomed", &err);
    if (code == CC_OPERATION_FAILED && err != NULL) {
        printf("group failure: code %d\n", code);
        print_list("failed_hosts", &err->failed_hosts);
        print_list("rollback_failed_hosts", &err->rollback_failed_hosts);
        print_list("possible_orphans", &err->possible_orphans);
        if (err->failed_hosts.len != 1 || strcmp(err->failed_hosts.items[0], DEAD_HOST) != 0) {
            failures++;
        }
    } else {
        fprintf(stderr, "doomed create: expected code %d, got %d\n", CC_OPERATION_FAILED, code);
        failures++;
    }
    cc_error_free(err);
    err = NULL;

    int exists = -1;
    code = cc_verify_group(client, first_host, "demo-doomed", &exists, &err);
    if (code != CC_OK) {
        failures += report("cc_verify_group", code, err);
    } else {
        printf("after rollback %s: %s\n", first_host, exists ? "present" : "missing");
        failures += exists != 0;
    }
    failures += show_nodes("toml unhealthy", cc_unhealthy_nodes, client);
    cc_client_free(client);
    return failures;
}

/* A client from a configuration file, and a bad one. */
static int config_demo(const char *path) {
    CcError *err = NULL;
    int failures = 0;
    CcClient *client = cc_client_new_from_config(path, &err);
    if (client == NULL) {
        return report("cc_client_new_from_config", err != NULL ? err->code : -1, err);
    }
    failures += show_nodes("config nodes", cc_nodes, client);
    cc_client_free(client);

    CcClient *bad = cc_client_new_from_toml("hosts = 7\n", &err);
    if (bad == NULL && err != NULL && err->code == CC_INVALID_INPUT) {
        printf("bad config refused: code %d: %s\n", err->code, err->message);
    } else {
        fprintf(stderr, "bad config: expected code %d\n", CC_INVALID_INPUT);
        failures++;
    }
    cc_error_free(err);
    cc_client_free(bad);
    return failures;
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s HOSTS_CSV [CONFIG_FILE]\n", argv[0]);
        return 2;
    }
    const char *hosts = argv[1];
    int failures = 0;
    CcError *err = NULL;
    int code;

    printf("version %s abi %u (header %u)\n", cc_version(), (unsigned)cc_abi_version(),
           (unsigned)CC_ABI_VERSION);
    if (cc_abi_version() != CC_ABI_VERSION) {
        failures++;
    }

    CcClient *client = cc_client_new(hosts, &err);
    if (client == NULL) {
        report("cc_client_new", err != NULL ? err->code : -1, err);
        return 1;
    }

    code = cc_create_group(client, GROUP, &err);
    if (code == CC_OK) {
        printf("created %s\n", GROUP);
    } else {
        failures += report("cc_create_group", code, err);
    }
    failures += verify_each(client, hosts, 1);
    failures += verify_everywhere(client, CC_PRESENT);
    failures += request_demo(client);

    CcStringList *failed = NULL;
    code = cc_delete_group(client, GROUP, &failed, &err);
    if (code == CC_OK) {
        printf("deleted %s (failed on %zu nodes)\n", GROUP, failed->len);
    } else {
        for (size_t i = 0; failed != NULL && i < failed->len; i++) {
            fprintf(stderr, "delete failed on %s\n", failed->items[i]);
        }
        failures += report("cc_delete_group", code, err);
    }
    cc_string_list_free(failed);
    failures += verify_each(client, hosts, 0);
    failures += verify_everywhere(client, CC_MISSING);

    failures += show_nodes("nodes", cc_nodes, client);
    failures += show_nodes("healthy", cc_healthy_nodes, client);
    failures += show_nodes("unhealthy", cc_unhealthy_nodes, client);

    char *json = NULL;
    code = cc_metrics_json(client, &json, &err);
    if (code == CC_OK) {
        printf("metrics %s\n", json);
    } else {
        failures += report("cc_metrics_json", code, err);
    }
    cc_string_free(json);

    char *prom = NULL;
    code = cc_prometheus(client, &prom, &err);
    if (code == CC_OK) {
        printf("prometheus %zu bytes\n", strlen(prom));
        fputs(prom, stdout);
    } else {
        failures += report("cc_prometheus", code, err);
    }
    cc_string_free(prom);

    char first[1024];
    snprintf(first, sizeof first, "%s", hosts);
    first[strcspn(first, ",")] = '\0';
    failures += group_failure_demo(first);
    if (argc == 3) {
        failures += config_demo(argv[2]);
    }

    /* Error path: an invalid group id is refused before anything is sent. */
    code = cc_create_group(client, "bad/id", &err);
    if (code == CC_INVALID_INPUT && err != NULL) {
        printf("invalid id refused: code %d: %s\n", err->code, err->message);
    } else {
        fprintf(stderr, "invalid id: expected code %d, got %d\n", CC_INVALID_INPUT, code);
        failures++;
    }
    cc_error_free(err);
    err = NULL;

    /* Error path: an invalid host list gives no client. */
    CcClient *bad = cc_client_new("ftp://127.0.0.1:1", &err);
    if (bad == NULL && err != NULL && err->code == CC_INVALID_INPUT) {
        printf("invalid host refused: code %d: %s\n", err->code, err->message);
    } else {
        fprintf(stderr, "invalid host: expected code %d\n", CC_INVALID_INPUT);
        failures++;
    }
    cc_error_free(err);
    cc_client_free(bad);

    /* Error path: a NULL argument is a typed error, not a crash. */
    code = cc_create_group(client, NULL, NULL);
    if (code == CC_NULL_POINTER) {
        printf("null id refused: code %d\n", code);
    } else {
        fprintf(stderr, "null id: expected code %d, got %d\n", CC_NULL_POINTER, code);
        failures++;
    }

    /* A living node set: the first node leaves (its calls in flight would
     * finish), comes back, and is refused a second time. */
    int removed = -1;
    code = cc_client_remove_node(client, first, &removed, &err);
    if (code == CC_OK) {
        printf("removed %s: %d\n", first, removed);
    } else {
        failures += report("cc_client_remove_node", code, err);
        err = NULL;
    }
    code = cc_client_add_node(client, first, &err);
    if (code == CC_OK) {
        printf("added %s\n", first);
    } else {
        failures += report("cc_client_add_node", code, err);
        err = NULL;
    }
    code = cc_client_add_node(client, first, &err);
    if (code == CC_INVALID_INPUT && err != NULL) {
        printf("node added twice refused: code %d: %s\n", err->code, err->message);
    } else {
        fprintf(stderr, "node added twice: expected code %d, got %d\n", CC_INVALID_INPUT, code);
        failures++;
    }
    cc_error_free(err);
    err = NULL;

    /* A handle observing a cancel token: once cancelled (cc_cancel may come
     * from another thread while a call runs), its calls are CC_CANCELLED;
     * freeing it (and the token, in any order) leaves `client` running. */
    CcCancel *token = cc_cancel_new();
    CcClient *cancellable = cc_client_with_cancel(client, token, &err);
    if (cancellable == NULL) {
        failures += report("cc_client_with_cancel", -1, err);
        err = NULL;
    } else {
        cc_cancel(token);
        code = cc_create_group(cancellable, "demo-cancelled", &err);
        if (code == CC_CANCELLED && err != NULL) {
            printf("after cancel: code %d: %s\n", err->code, err->message);
        } else {
            fprintf(stderr, "after cancel: expected code %d, got %d\n", CC_CANCELLED, code);
            failures++;
        }
        cc_error_free(err);
        err = NULL;
    }
    cc_cancel_free(token);
    cc_client_free(cancellable);

    /* A handle with its own call settings (5 s per operation, one attempt,
     * no hedging; 0 keeps the client's request timeout): it shares the
     * client's nodes, and freeing it leaves `client` running. */
    CcClient *quick = cc_client_with_options(client, 5000, 0, 1, 2, &err);
    if (quick == NULL) {
        failures += report("cc_client_with_options", -1, err);
        err = NULL;
    } else {
        code = cc_create_group(quick, "demo-options", &err);
        if (code == CC_OK) {
            CcStringList *undeleted = NULL;
            code = cc_delete_group(quick, "demo-options", &undeleted, &err);
            cc_string_list_free(undeleted);
        }
        if (code == CC_OK) {
            printf("with options: created and deleted demo-options\n");
        } else {
            failures += report("with options", code, err);
        }
        err = NULL;
    }
    cc_client_free(quick);

    /* After shutdown every call is CC_SHUT_DOWN; the handle is still freed. */
    code = cc_client_shutdown(client, &err);
    failures += code != CC_OK;
    code = cc_create_group(client, GROUP, &err);
    if (code == CC_SHUT_DOWN && err != NULL) {
        printf("after shutdown: code %d: %s\n", err->code, err->message);
    } else {
        fprintf(stderr, "after shutdown: expected code %d, got %d\n", CC_SHUT_DOWN, code);
        failures++;
    }
    cc_error_free(err);

    cc_client_free(client);
    printf("%s\n", failures == 0 ? "demo ok" : "demo FAILED");
    return failures == 0 ? 0 : 1;
}
