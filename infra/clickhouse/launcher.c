/*
 * Serves the ClickHouse HTTP interface from chDB's libchdb.so.
 *
 * libchdb.so is clickhouse-local packaged as a library. Its query_stable_v2()
 * takes a clickhouse-local command line; given --http_port and a query that
 * starts the HTTP listener and then runs (idly) for a very long time, the
 * process keeps serving HTTP until it is signalled. The stack manager builds
 * the whole command line, so this program only loads the library and passes
 * the arguments through:
 *
 *   launcher <path/to/libchdb.so> <clickhouse-local arguments...>
 *
 * Exit status: 0 when the query ends normally, 1 on a query error, 2 when the
 * library cannot be loaded.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

/* Layout of chDB's local_result_v2; only error_message is read here. */
struct chdb_result_v2 {
    char *buf;
    size_t len;
    void *vec;
    double elapsed;
    uint64_t rows_read;
    uint64_t bytes_read;
    char *error_message;
};

typedef struct chdb_result_v2 *(*query_fn)(int argc, char **argv);

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <libchdb.so> <clickhouse-local args...>\n", argv[0]);
        return 2;
    }
    /* RTLD_NOW: fail here, with dlerror(), rather than on the first lazy call. */
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "launcher: cannot load %s: %s\n", argv[1], dlerror());
        return 2;
    }
    query_fn query = (query_fn)dlsym(lib, "query_stable_v2");
    if (query == NULL) {
        fprintf(stderr, "launcher: query_stable_v2 not found: %s\n", dlerror());
        return 2;
    }
    /* argv[1] (the library path) becomes argv[0] of the clickhouse command line. */
    struct chdb_result_v2 *result = query(argc - 1, argv + 1);
    if (result == NULL) {
        fprintf(stderr, "launcher: query returned no result\n");
        return 1;
    }
    if (result->error_message != NULL) {
        fprintf(stderr, "launcher: %s\n", result->error_message);
        return 1;
    }
    fprintf(stderr, "launcher: query finished\n");
    return 0;
}
