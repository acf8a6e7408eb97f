/*
 * demo.c: the cluster-client C ABI in use.
 *
 *   demo "http://127.0.0.1:8000,http://127.0.0.1:8001"
 *
 * Creates a group on every node, verifies it on each node, deletes it,
 * prints the healthy nodes and the pool metrics as JSON, shows two error
 * paths (an invalid group id, an invalid host list), and frees everything.
 * Exits 0 when every step went as expected, 1 otherwise, 2 on bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "cluster_client.h"

#define GROUP "demo-group"

/* Prints and frees an error; returns 1 so callers can count failures. */
static int report(const char *what, int code, CcError *err) {
    fprintf(stderr, "%s failed: code %d: %s\n", what, code,
            err != NULL ? err->message : "(no message)");
    cc_error_free(err);
    return 1;
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

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s HOSTS_CSV\n", argv[0]);
        return 2;
    }
    const char *hosts = argv[1];
    int failures = 0;
    CcError *err = NULL;
    int code;

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

    CcStringList *healthy = NULL;
    code = cc_healthy_nodes(client, &healthy, &err);
    if (code == CC_OK) {
        for (size_t i = 0; i < healthy->len; i++) {
            printf("healthy %s\n", healthy->items[i]);
        }
    } else {
        failures += report("cc_healthy_nodes", code, err);
    }
    cc_string_list_free(healthy);

    char *json = NULL;
    code = cc_metrics_json(client, &json, &err);
    if (code == CC_OK) {
        printf("metrics %s\n", json);
    } else {
        failures += report("cc_metrics_json", code, err);
    }
    cc_string_free(json);

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

    cc_client_free(client);
    printf("%s\n", failures == 0 ? "demo ok" : "demo FAILED");
    return failures == 0 ? 0 : 1;
}
