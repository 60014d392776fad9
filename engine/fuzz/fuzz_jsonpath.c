
/*
 * Copyright (C) ngx_sfn authors
 *
 * libFuzzer target: a JSONPath and a document, separated by the first
 * newline.  Compiles the path, evaluates it, and when it is a reference
 * path sets a value through it.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"


static void
sfn_fz_ctx(sfn_env_t *env)
{
    env->ctx = cJSON_Parse("{\"Execution\":{\"Id\":\"x\",\"Input\":{}},"
                           "\"State\":{\"Name\":\"S\"}}");
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int           owned;
    char          err[256];
    cJSON        *doc, *out, *v;
    size_t        plen;
    sfn_buf_t     b;
    sfn_env_t     env;
    sfn_pool_t    pool;
    sfn_path_t   *p;
    const char   *nl;

    nl = memchr(data, '\n', size);
    plen = nl ? (size_t) (nl - (const char *) data) : size;

    memset(&pool, 0, sizeof(sfn_pool_t));

    p = sfn_path_compile(&pool, (const char *) data, plen, err, sizeof(err));
    if (p == NULL) {
        if (strlen(err) >= sizeof(err)) {
            abort();
        }
        sfn_pool_destroy(&pool);
        return 0;
    }

    memset(&b, 0, sizeof(sfn_buf_t));
    sfn_path_normalized(p, &b);
    sfn_buf_free(&b);

    doc = nl ? sfn_json_parse(nl + 1, size - plen - 1) : NULL;
    if (doc == NULL) {
        doc = cJSON_Parse("{\"a\":[1,{\"b\":2},[3]],\"c\":{\"d\":\"e\"}}");
    }

    memset(&env, 0, sizeof(sfn_env_t));
    env.input = doc;
    env.build_ctx = sfn_fz_ctx;

    if (sfn_path_eval(p, &env, &out, &owned) == 0 && owned) {
        cJSON_Delete(out);
    }

    cJSON_Delete(env.ctx);

    if (sfn_path_definite(p) && !sfn_path_context(p)) {
        v = cJSON_CreateString("set");
        if (sfn_path_set(p, &doc, v) != 0) {
            cJSON_Delete(v);
        }
    }

    cJSON_Delete(doc);
    sfn_pool_destroy(&pool);

    return 0;
}
