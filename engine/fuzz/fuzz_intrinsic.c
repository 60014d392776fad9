
/*
 * Copyright (C) ngx_sfn authors
 *
 * libFuzzer target: an intrinsic function call ("States.Format(...)"),
 * compiled and evaluated against a fixed input and context.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"


static void
sfn_fz_ctx(sfn_env_t *env)
{
    env->ctx = cJSON_Parse("{\"Execution\":{\"Id\":\"x\",\"Name\":\"a-b-c\"},"
                           "\"State\":{\"Name\":\"S\",\"RetryCount\":0}}");
}


static void
sfn_fz_random(void *data, void *buf, size_t len)
{
    memset(buf, 0x42, len);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char          err[256];
    cJSON        *doc, *r;
    sfn_fn_t     *fn;
    sfn_err_t     e;
    sfn_env_t     env;
    sfn_pool_t    pool;
    sfn_expr_t    x;
    char         *text;

    memset(&pool, 0, sizeof(sfn_pool_t));

    fn = sfn_fn_compile(&pool, (const char *) data, size, err, sizeof(err));
    if (fn == NULL) {
        sfn_pool_destroy(&pool);
        return 0;
    }

    doc = cJSON_Parse("{\"a\":[1,2,2,\"x\",{\"k\":null}],\"s\":\"a,b;c\","
                      "\"n\":3,\"f\":1.5,\"o\":{\"p\":{\"q\":1}},"
                      "\"j\":\"{\\\"z\\\":[true]}\",\"b\":\"aGVsbG8=\"}");

    memset(&env, 0, sizeof(sfn_env_t));
    env.input = doc;
    env.build_ctx = sfn_fz_ctx;
    env.random = sfn_fz_random;

    memset(&e, 0, sizeof(sfn_err_t));
    r = sfn_fn_eval(fn, &env, &e);

    if (r == NULL && e.error == NULL) {
        abort();
    }

    cJSON_Delete(r);
    sfn_err_clear(&e);
    cJSON_Delete(env.ctx);

    /* the same text through the "X.$" expression front end */
    text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = '\0';
        if (strlen(text) == size
            && sfn_expr_compile(&pool, &x, text, err, sizeof(err)) == 0)
        {
            int     owned;
            cJSON  *out;

            env.ctx = NULL;
            if (sfn_expr_eval(&x, &env, "f.$", &out, &owned, &e) == 0) {
                if (owned) {
                    cJSON_Delete(out);
                }
            }
            sfn_err_clear(&e);
            cJSON_Delete(env.ctx);
        }
        free(text);
    }

    cJSON_Delete(doc);
    sfn_pool_destroy(&pool);

    return 0;
}
