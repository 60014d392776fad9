
/*
 * Copyright (C) ngx_sfn authors
 *
 * libFuzzer target: an execution input.  Runs it through fixed machines
 * that exercise paths, templates, intrinsics, choice rules, ResultPath,
 * Map and Parallel, and checks that the size the engine computes for a
 * payload matches its serialisation.
 */


#include "fuzz_common.h"
#include "sfn_core.h"


static const char  *sfn_fz_machines[] = {

    "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\","
    "\"Parameters\":{\"x.$\":\"$.a\",\"f.$\":\"States.Format('{} {}', $.a,"
    " $.b)\",\"j.$\":\"States.JsonToString($)\",\"u.$\":"
    "\"States.ArrayUnique(States.Array($.a, $.a))\"},\"ResultPath\":"
    "\"$.r\",\"Next\":\"C\"},\"C\":{\"Type\":\"Choice\",\"Choices\":[{"
    "\"Variable\":\"$.r.x\",\"IsString\":true,\"Next\":\"S\"},{\"And\":[{"
    "\"Variable\":\"$.n\",\"NumericGreaterThan\":1},{\"Variable\":\"$.t\","
    "\"TimestampLessThan\":\"2020-01-01T00:00:00Z\"}],\"Next\":\"S\"}],"
    "\"Default\":\"F\"},\"S\":{\"Type\":\"Succeed\"},\"F\":{\"Type\":"
    "\"Fail\",\"ErrorPath\":\"States.Format('{}', $.e)\"}}}",

    "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"ItemsPath\":"
    "\"$.items\",\"ItemSelector\":{\"v.$\":\"$$.Map.Item.Value\","
    "\"i.$\":\"$$.Map.Item.Index\"},\"MaxConcurrency\":2,"
    "\"ToleratedFailureCount\":1,\"ItemProcessor\":{\"StartAt\":\"T\","
    "\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"r\",\"Retry\":[{"
    "\"ErrorEquals\":[\"States.ALL\"],\"MaxAttempts\":3}],\"End\":true}}},"
    "\"ResultSelector\":{\"n.$\":\"States.ArrayLength($)\"},\"End\":true}}}",

    "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\","
    "\"Branches\":[{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\","
    "\"InputPath\":\"$..a\",\"End\":true}}},{\"StartAt\":\"B\",\"States\":"
    "{\"B\":{\"Type\":\"Wait\",\"SecondsPath\":\"$.w\",\"End\":true}}}],"
    "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"ResultPath\":\"$.err\","
    "\"Next\":\"Z\"}],\"OutputPath\":\"$[0]\",\"End\":true},\"Z\":{"
    "\"Type\":\"Pass\",\"End\":true}}}",
};


static sfn_machine_t  *sfn_fz_m[3];


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t      i, n;
    char       *s;
    cJSON      *v;
    sfn_diag_t  d;

    for (i = 0; i < 3; i++) {
        if (sfn_fz_m[i] == NULL) {
            sfn_fz_m[i] = sfn_machine_load(sfn_fz_machines[i],
                                           strlen(sfn_fz_machines[i]),
                                           NULL, NULL, &d);
            if (sfn_fz_m[i] == NULL) {
                abort();
            }
        }

        /* eager history, then lazy events kept past the end */
        sfn_fz_execute(sfn_fz_m[i], (const char *) data, size, 100,
                       i == 0 ? 1 : 2, NULL);
    }

    v = sfn_json_parse((const char *) data, size);
    if (v) {
        s = sfn_json_print(v);
        n = sfn_json_size(v);
        if (s == NULL || strlen(s) != n) {
            abort();
        }
        free(s);
        cJSON_Delete(v);
    }

    return 0;
}
