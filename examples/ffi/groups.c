/* A tiny group tool over the C ABI, driven by a configuration file:
 *
 *   groups CONFIG_FILE create|verify|delete GROUP_ID
 *
 * create: prints "created" or the error with its three host lists;
 * verify: one line per node, "HOST present|missing|unknown";
 * delete: prints "deleted" or the nodes that still hold the group.
 * Exit code 0 on success, 1 when the operation failed, 2 on bad usage.
 * tests/nginx.rs runs it against three nginx WebDAV nodes with the same
 * file that drives the library and clusterctl. */
#include <stdio.h>
#include <string.h>

#include "cluster_client.h"

static void print_list(const char *name, const CcStringList *list) {
    printf("%s:", name);
    for (size_t i = 0; i < list->len; i++) {
        printf(" %s", list->items[i]);
    }
    printf("\n");
}

static int fail(CcError *err) {
    if (err != NULL) {
        printf("error %d: %s\n", err->code, err->message);
        print_list("failed", &err->failed_hosts);
        print_list("rollback failed", &err->rollback_failed_hosts);
        print_list("possible orphans", &err->possible_orphans);
        cc_error_free(err);
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s CONFIG_FILE create|verify|delete GROUP_ID\n", argv[0]);
        return 2;
    }
    const char *op = argv[2];
    const char *id = argv[3];
    CcError *err = NULL;
    CcClient *client = cc_client_new_from_config(argv[1], &err);
    if (client == NULL) {
        fail(err);
        return 2;
    }
    int code = 0;
    if (strcmp(op, "create") == 0) {
        if (cc_create_group(client, id, &err) == CC_OK) {
            printf("created\n");
        } else {
            code = fail(err);
        }
    } else if (strcmp(op, "verify") == 0) {
        CcPresenceList *list = NULL;
        if (cc_verify_group_everywhere(client, id, &list, &err) == CC_OK) {
            for (size_t i = 0; i < list->len; i++) {
                const CcPresence *p = &list->items[i];
                const char *state = p->state == CC_PRESENT   ? "present"
                                    : p->state == CC_MISSING ? "missing"
                                                             : "unknown";
                printf("%s %s\n", p->host, state);
                if (p->state != CC_PRESENT) {
                    code = 1;
                }
            }
            cc_presence_list_free(list);
        } else {
            code = fail(err);
        }
    } else if (strcmp(op, "delete") == 0) {
        CcStringList *left = NULL;
        if (cc_delete_group(client, id, &left, &err) == CC_OK) {
            if (left->len == 0) {
                printf("deleted\n");
            } else {
                print_list("still there", left);
                code = 1;
            }
            cc_string_list_free(left);
        } else {
            code = fail(err);
        }
    } else {
        fprintf(stderr, "unknown operation %s\n", op);
        code = 2;
    }
    cc_client_free(client);
    return code;
}
