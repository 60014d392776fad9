
/*
 * Copyright (C) ngx_sfn authors
 *
 * libFuzzer target: a JSONata expression and an input document, separated
 * by the first newline.  Compiles the expression, evaluates it within a
 * depth and a time limit, and checks that an error always carries a code
 * and a message; then twice more as Step Functions does, in one session,
 * with its functions and a $states variable from the host; then once more
 * into an arena, the result referring to the document's arrays and
 * objects: its text must be the same.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_core.h"
#include "sfn_jsonata.h"


static void
sfn_fz_check(const sfn_jsonata_error_t *err)
{
    if (err->code[0] == '\0' || err->message == NULL) {
        abort();
    }
}


static const cJSON  *sfn_fz_states;


static const cJSON *
sfn_fz_variable(void *data, const char *name, size_t len)
{
    return len == 6 && memcmp(name, "states", 6) == 0 ? sfn_fz_states : NULL;
}


static void
sfn_fz_random(void *data, void *buf, size_t len)
{
    memset(buf, 0x5a, len);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                     i;
    char                  *text, *lent;
    sfn_pool_t             pool;
    sfn_jsonata_host_t      host;
    cJSON                 *doc, *out, *bindings;
    size_t                 elen;
    const char            *nl;
    sfn_jsonata_t         *prog;
    sfn_jsonata_error_t    err;
    sfn_jsonata_limits_t   limits;

    nl = memchr(data, '\n', size);
    elen = nl ? (size_t) (nl - (const char *) data) : size;

    prog = sfn_jsonata_compile((const char *) data, elen, &err);
    if (prog == NULL) {
        sfn_fz_check(&err);
        sfn_jsonata_error_clear(&err);
        return 0;
    }

    doc = nl ? cJSON_ParseWithLength(nl + 1, size - elen - 1) : NULL;
    if (doc == NULL) {
        doc = cJSON_Parse("{\"a\":[1,{\"b\":2},[3]],\"c\":{\"d\":\"e\"},"
                          "\"s\":\"hello world\",\"n\":-12.5}");
    }

    bindings = cJSON_Parse("{\"v\":[1,2,3],\"o\":{\"k\":\"v\"}}");

    memset(&limits, 0, sizeof(limits));
    limits.depth = 200;
    limits.timelimit = 200;
    limits.now = 1700000000000LL;

    if (sfn_jsonata_eval(prog, doc, bindings, &limits, &out, &err) == 0) {
        cJSON_Delete(out);
    } else {
        sfn_fz_check(&err);
        sfn_jsonata_error_clear(&err);
    }

    /* Step Functions' way: $states from the host, its functions, a session */
    sfn_fz_states = doc;

    memset(&host, 0, sizeof(host));
    host.variable = sfn_fz_variable;
    host.random = sfn_fz_random;
    host.aws = 1;
    host.session = sfn_jsonata_session_new();

    text = NULL;

    for (i = 0; host.session && i < 2; i++) {
        if (sfn_jsonata_eval_host(prog, NULL, NULL, &limits, &host, &out,
                                  &err) == 0)
        {
            if (i == 0 && out) {
                text = cJSON_PrintUnformatted(out);
            }
            cJSON_Delete(out);
        } else {
            sfn_fz_check(&err);
            sfn_jsonata_error_clear(&err);
        }
    }

    sfn_jsonata_session_free(host.session);

    memset(&pool, 0, sizeof(sfn_pool_t));
    host.session = sfn_jsonata_session_new();
    host.pool = &pool;
    host.lend = doc;

    if (host.session
        && sfn_jsonata_eval_host(prog, NULL, NULL, &limits, &host, &out,
                                 &err) == 0)
    {
        if (out && text) {
            lent = cJSON_PrintUnformatted(out);
            if (lent == NULL || strcmp(lent, text) != 0) {
                abort();
            }
            free(lent);
        }

    } else if (host.session) {
        sfn_fz_check(&err);
        sfn_jsonata_error_clear(&err);
    }

    sfn_jsonata_session_free(host.session);
    sfn_pool_destroy(&pool);
    free(text);

    cJSON_Delete(bindings);
    cJSON_Delete(doc);
    sfn_jsonata_free(prog);

    return 0;
}
