
/*
 * Copyright (C) ngx_sfn authors
 *
 * libFuzzer target: a JSONata expression and an input document, separated
 * by the first newline.  Compiles the expression, evaluates it within a
 * depth and a time limit, and checks that an error always carries a code
 * and a message.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_jsonata.h"


static void
sfn_fz_check(const sfn_jsonata_error_t *err)
{
    if (err->code[0] == '\0' || err->message == NULL) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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

    cJSON_Delete(bindings);
    cJSON_Delete(doc);
    sfn_jsonata_free(prog);

    return 0;
}
