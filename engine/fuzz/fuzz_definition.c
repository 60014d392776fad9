
/*
 * Copyright (C) ngx_sfn authors
 *
 * libFuzzer target: a state machine definition.  Loads it, and when it is
 * valid runs it on a few inputs with a synchronous host.
 */


#include "fuzz_common.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sfn_diag_t      d;
    const char     *in;
    sfn_machine_t  *m;

    m = sfn_machine_load((const char *) data, size, NULL, NULL, &d);
    if (m == NULL) {
        /* the diagnostic must be NUL-terminated text */
        if (strlen(d.code) == 0 || strlen(d.message) >= sizeof(d.message)) {
            abort();
        }
        return 0;
    }

    (void) sfn_machine_timeout_ms(m);
    (void) sfn_machine_check_type(m, SFN_EXPRESS, &d);

    in = "{\"a\":1,\"b\":[1,2,{\"c\":\"x\"}],\"s\":\"t\"}";
    sfn_fz_execute(m, in, strlen(in), 200, 1, NULL);

    in = "[1,2,3]";
    sfn_fz_execute(m, in, strlen(in), 200, 0, NULL);

    sfn_machine_free(m);

    return 0;
}
