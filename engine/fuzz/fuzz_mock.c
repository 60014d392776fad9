
/*
 * Copyright (C) ngx_sfn authors
 *
 * libFuzzer target: a mock configuration (sfn_mock_load).  When it loads,
 * its test case "T" of state machine "sm", if any, is checked against a
 * fixed machine (a retried Task, a Parallel branch and Map iterations)
 * and, when it fits, runs it mocked, a snapshot restored mid-way.
 */


#include "fuzz_common.h"


static const char  sfn_fz_def[] =
    "{\"StartAt\":\"L\",\"States\":{\"L\":{\"Type\":\"Task\",\"Resource\":"
    "\"r\",\"Retry\":[{\"ErrorEquals\":[\"States.ALL\"],\"MaxAttempts\":3}],"
    "\"Catch\":[{\"ErrorEquals\":[\"E\"],\"Next\":\"P\"}],\"ResultPath\":"
    "\"$.l\",\"Next\":\"P\"},\"P\":{\"Type\":\"Parallel\",\"Branches\":[{"
    "\"StartAt\":\"B\",\"States\":{\"B\":{\"Type\":\"Task\",\"Resource\":"
    "\"r\",\"End\":true}}},{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":"
    "\"Map\",\"ItemsPath\":\"$.items\",\"ItemProcessor\":{\"StartAt\":\"I\","
    "\"States\":{\"I\":{\"Type\":\"Task\",\"Resource\":\"r\",\"End\":true}}},"
    "\"End\":true}}}],\"End\":true}}}";


static sfn_machine_t  *sfn_fz_m;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                    err[1024];
    sfn_diag_t              d;
    sfn_mock_t             *mk;
    const sfn_mock_case_t  *c;

    if (sfn_fz_m == NULL) {
        sfn_fz_m = sfn_machine_load(sfn_fz_def, sizeof(sfn_fz_def) - 1, NULL,
                                    NULL, &d);
        if (sfn_fz_m == NULL) {
            abort();
        }
    }

    err[0] = '\0';
    mk = sfn_mock_load((const char *) data, size, err, sizeof(err));

    if (mk == NULL) {
        if (err[0] == '\0') {
            /* a refusal always says why */
            abort();
        }
        return 0;
    }

    c = sfn_mock_case(mk, "sm", "T", NULL);

    if (c && sfn_mock_check(c, sfn_fz_m, err, sizeof(err)) == SFN_OK) {
        sfn_fz_execute(sfn_fz_m, "{\"items\":[1,2,3]}", 17, 100, 1, c);
    }

    sfn_mock_free(mk);

    return 0;
}
