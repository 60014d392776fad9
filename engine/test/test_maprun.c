
/*
 * Copyright (C) ngx_sfn authors
 *
 * A distributed Map handed to the host as a map run: what its fields
 * evaluate to (items, ItemReader, ResultWriter, ItemBatcher, limits, the
 * ItemProcessor as a definition), each child's input through
 * sfn_exec_map_item(), the answer and its events, Retry and Catch of a
 * failed map run, a stop, and a restored execution asking again.
 */


#include "sfn_test.h"


typedef struct {
    int                   calls;
    int                   resumed;
    uint64_t              id;
    char                  label[64];
    char                  processor[2048];
    char                  reader[1024];
    char                  writer[1024];
    char                  items[1024];
    char                  batch[256];
    sfn_type_e            type;
    int64_t               max_conc;
    int64_t               tol_count;
    double                tol_pct;
} sfn_t_maprun_t;


static sfn_t_maprun_t  mr;


static void
sfn_t_copy(char *dst, size_t size, const cJSON *v)
{
    char  *s;

    dst[0] = '\0';

    if (v == NULL) {
        return;
    }

    s = sfn_json_print(v);
    snprintf(dst, size, "%s", s ? s : "");
    free(s);
}


static int
sfn_t_map_run(void *data, sfn_exec_t *e, const sfn_map_req_t *r, char *arn,
    size_t size)
{
    mr.calls++;
    mr.resumed = r->resumed;
    mr.id = r->id;
    mr.type = r->type;
    mr.max_conc = r->max_concurrency;
    mr.tol_count = r->tolerated_count;
    mr.tol_pct = r->tolerated_pct;
    snprintf(mr.label, sizeof(mr.label), "%s", r->label);
    snprintf(mr.processor, sizeof(mr.processor), "%s", r->processor);
    sfn_t_copy(mr.reader, sizeof(mr.reader), r->reader);
    sfn_t_copy(mr.writer, sizeof(mr.writer), r->writer);
    sfn_t_copy(mr.items, sizeof(mr.items), r->items);
    snprintf(mr.batch, sizeof(mr.batch), "%lld/%lld/%d",
             (long long) r->batch_items, (long long) r->batch_bytes,
             r->batching);

    snprintf(arn, size, "arn:aws:states:us-east-1:000000000000:mapRun:sm/%s:"
             "00000000-0000-0000-0000-000000000001", r->label);

    return SFN_OK;
}


/* the children: each item's input, their outputs the inputs (a Pass) */

static char *
sfn_t_children(sfn_exec_t *e)
{
    char    *error, *cause, *out;
    cJSON   *items, *it, *in, *res;
    size_t   i;

    items = sfn_json_parse(mr.items, strlen(mr.items));
    res = cJSON_CreateArray();
    i = 0;

    for (it = items ? items->child : NULL; it; it = it->next, i++) {
        in = sfn_exec_map_item(e, mr.id, cJSON_Duplicate(it, 1), i, &error,
                               &cause);
        if (in == NULL) {
            free(error);
            free(cause);
            in = cJSON_CreateString("selector failed");
        }
        cJSON_AddItemToArray(res, in);
    }

    out = sfn_json_print(res);
    cJSON_Delete(res);
    cJSON_Delete(items);

    return out;
}


static sfn_exec_t *
sfn_t_start(sfn_t_host_t *h, sfn_machine_t **m, const char *def,
    const char *input)
{
    char             *d;
    sfn_host_t        host;
    sfn_diag_t        diag;
    sfn_exec_t       *e;
    const char       *error, *cause;
    sfn_exec_conf_t   conf;

    memset(&mr, 0, sizeof(sfn_t_maprun_t));
    sfn_t_host_init(h, &host);
    h->full_events = 1;
    host.map_run = sfn_t_map_run;

    d = sfn_t_unquote(def);
    *m = sfn_machine_load(d, strlen(d), sfn_t_known, NULL, &diag);
    free(d);
    assert_non_null(*m);

    memset(&conf, 0, sizeof(sfn_exec_conf_t));
    conf.name = "exec-1";
    conf.arn = "arn:aws:states:us-east-1:000000000000:execution:sm:exec-1";
    conf.state_machine_name = "sm";
    conf.state_machine_arn =
        "arn:aws:states:us-east-1:000000000000:stateMachine:sm";

    d = sfn_t_unquote(input);
    e = sfn_exec_create(*m, &host, &conf, d, strlen(d), &error, &cause);
    free(d);
    assert_non_null(e);
    h->e = e;

    sfn_exec_start(e);

    return e;
}


#define DMAP(fields, proc)                                                    \
    "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`," fields                     \
    "`ItemProcessor`:{`ProcessorConfig`:{`Mode`:`DISTRIBUTED`,"               \
    "`ExecutionType`:`EXPRESS`},`StartAt`:`I`,`States`:{" proc "}},"          \
    "`End`:true}}}"

#define PASS_I  "`I`:{`Type`:`Pass`,`End`:true}"


static void
test_items_and_selector(void **state)
{
    char            *out;
    sfn_exec_t      *e;
    sfn_machine_t   *m;
    sfn_t_host_t    *h;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    e = sfn_t_start(h, &m,
                    DMAP("`ItemsPath`:`$.xs`,`MaxConcurrency`:7,"
                         "`ToleratedFailureCount`:2,`Label`:`Lbl`,"
                         "`ItemSelector`:{`v.$`:`$$.Map.Item.Value`,"
                         "`i.$`:`$$.Map.Item.Index`,`k.$`:`$.k`},", PASS_I),
                    "{`xs`:[`a`,`b`],`k`:1}");

    assert_int_equal(mr.calls, 1);
    assert_int_equal(sfn_exec_status(e), SFN_RUNNING);
    assert_string_equal(mr.label, "Lbl");
    assert_int_equal(mr.type, SFN_EXPRESS);
    assert_int_equal(mr.max_conc, 7);
    assert_int_equal(mr.tol_count, 2);
    assert_true(sfn_t_json_eq(mr.items, "[\"a\",\"b\"]"));
    assert_null(strstr(mr.processor, "ProcessorConfig"));
    assert_non_null(strstr(h->events, "MapRunStarted"));

    out = sfn_t_children(e);
    sfn_exec_map_run_succeeded(e, mr.id, out, strlen(out));
    free(out);

    assert_int_equal(sfn_exec_status(e), SFN_SUCCEEDED);
    assert_true(sfn_t_json_eq(sfn_exec_output(e),
                              "[{\"v\":\"a\",\"i\":0,\"k\":1},"
                              "{\"v\":\"b\",\"i\":1,\"k\":1}]"));
    assert_non_null(strstr(h->events, "MapRunStarted,MapRunSucceeded,"
                                      "MapStateSucceeded,MapStateExited"));

    sfn_exec_free(e);
    sfn_machine_free(m);
    sfn_t_host_free(h);
    free(h);
}


static void
test_reader_writer(void **state)
{
    sfn_exec_t      *e;
    sfn_machine_t   *m;
    sfn_t_host_t    *h;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    e = sfn_t_start(h, &m,
                    DMAP("`ItemReader`:{`Resource`:"
                         "`arn:aws:states:::s3:getObject`,`Parameters`:{"
                         "`Bucket.$`:`$.b`,`Key`:`k.csv`},`ReaderConfig`:{"
                         "`InputType`:`CSV`,`MaxItemsPath`:`$.n`}},"
                         "`ResultWriter`:{`Resource`:"
                         "`arn:aws:states:::s3:putObject`,`Parameters`:{"
                         "`Bucket`:`out`,`Prefix.$`:`$.p`}},"
                         "`ItemBatcher`:{`MaxItemsPerBatch`:3},", PASS_I),
                    "{`b`:`data`,`n`:5,`p`:`pre`}");

    assert_int_equal(mr.calls, 1);
    assert_string_equal(mr.items, "");
    assert_true(sfn_t_json_eq(mr.reader,
                              "{\"Resource\":\"sfn:file:read\","
                              "\"Parameters\":{\"Bucket\":\"data\","
                              "\"Key\":\"k.csv\"},\"ReaderConfig\":{"
                              "\"InputType\":\"CSV\",\"MaxItems\":5}}"));
    assert_true(sfn_t_json_eq(mr.writer,
                              "{\"Resource\":\"sfn:file:write\","
                              "\"Parameters\":{\"Bucket\":\"out\","
                              "\"Prefix\":\"pre\"},\"WriterConfig\":{}}"));
    assert_string_equal(mr.batch, "3/262144/1");
    assert_string_equal(mr.label, "M");

    /* a failed map run: its error, subject to Catch and Retry */
    sfn_exec_map_run_failed(e, mr.id, "States.ItemReaderFailed", "gone");

    assert_int_equal(sfn_exec_status(e), SFN_FAILED);
    assert_string_equal(sfn_exec_error(e), "States.ItemReaderFailed");
    assert_non_null(strstr(h->events, "MapRunFailed,MapStateFailed"));

    sfn_exec_free(e);
    sfn_machine_free(m);
    sfn_t_host_free(h);
    free(h);
}


static void
test_catch_and_stop(void **state)
{
    sfn_exec_t      *e;
    sfn_machine_t   *m;
    sfn_t_host_t    *h;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    e = sfn_t_start(h, &m,
                    "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,"
                    "`ItemProcessor`:{`ProcessorConfig`:{`Mode`:"
                    "`DISTRIBUTED`},`StartAt`:`I`,`States`:{" PASS_I "}},"
                    "`Retry`:[{`ErrorEquals`:[`Flaky`],`IntervalSeconds`:1}],"
                    "`Catch`:[{`ErrorEquals`:["
                    "`States.ExceedToleratedFailureThreshold`],"
                    "`Next`:`C`}],`End`:true},"
                    "`C`:{`Type`:`Pass`,`Result`:`caught`,`End`:true}}}",
                    "[1]");

    assert_int_equal(mr.type, SFN_STANDARD);

    /* retried: a new map run, after the interval */
    sfn_exec_map_run_failed(e, mr.id, "Flaky", NULL);
    assert_int_equal(mr.calls, 1);
    while (mr.calls == 1 && sfn_t_step(h, e)) { /* void */ }
    assert_int_equal(mr.calls, 2);

    sfn_exec_map_run_failed(e, mr.id,
                            "States.ExceedToleratedFailureThreshold", "x");
    assert_int_equal(sfn_exec_status(e), SFN_SUCCEEDED);
    assert_string_equal(sfn_exec_output(e), "\"caught\"");

    sfn_exec_free(e);
    sfn_machine_free(m);
    sfn_t_host_free(h);

    /* a stop: the map run cancelled, MapRunAborted */
    e = sfn_t_start(h, &m, DMAP("", PASS_I), "[1,2]");
    sfn_exec_stop(e, "Stop", NULL);
    assert_int_equal(sfn_exec_status(e), SFN_ABORTED);
    assert_int_equal(h->tasks_cancelled, 1);
    assert_non_null(strstr(h->events, "MapRunAborted"));

    /* a late answer is ignored */
    sfn_exec_map_run_succeeded(e, mr.id, "[]", 2);
    assert_int_equal(sfn_exec_status(e), SFN_ABORTED);

    sfn_exec_free(e);
    sfn_machine_free(m);
    sfn_t_host_free(h);
    free(h);
}


static void
test_restore_asks_again(void **state)
{
    char            *snap, *out;
    sfn_host_t       host;
    sfn_exec_t      *e, *e2;
    sfn_machine_t   *m;
    sfn_t_host_t    *h;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    e = sfn_t_start(h, &m, DMAP("", PASS_I), "[4,5]");
    assert_int_equal(mr.calls, 1);

    snap = sfn_exec_snapshot(e);
    assert_non_null(snap);

    sfn_t_host_init(h, &host);
    host.map_run = sfn_t_map_run;

    e2 = sfn_exec_restore(m, &host, NULL, snap, strlen(snap));
    free(snap);
    assert_non_null(e2);

    assert_int_equal(mr.calls, 2);
    assert_int_equal(mr.resumed, 1);
    assert_true(sfn_t_json_eq(mr.items, "[4,5]"));

    out = sfn_t_children(e2);
    sfn_exec_map_run_succeeded(e2, mr.id, out, strlen(out));
    free(out);

    assert_int_equal(sfn_exec_status(e2), SFN_SUCCEEDED);
    assert_true(sfn_t_json_eq(sfn_exec_output(e2), "[4,5]"));

    sfn_exec_free(e2);
    sfn_exec_free(e);
    sfn_machine_free(m);
    sfn_t_host_free(h);
    free(h);
}


static const sfn_t_case_t  maprun_cases[] = {

    /* without a host's map_run, a distributed Map runs inline */
    { "distributed inline", DMAP("", PASS_I), "[1,2]",
      "SUCCEEDED", "[1,2]", NULL, NULL, NULL },

    { "ItemReader with no host to read it", DMAP("`ItemReader`:{`Resource`:"
      "`arn:aws:states:::s3:getObject`,`Parameters`:{`Bucket`:`b`,"
      "`Key`:`k`}},", PASS_I), "{}",
      "FAILED", NULL, "States.ItemReaderFailed", NULL, NULL },

    { "ItemReader on an inline Map",
      "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,`ItemReader`:{`Resource`:"
      "`arn:aws:states:::s3:getObject`,`Parameters`:{`Bucket`:`b`}},"
      "`ItemProcessor`:{`StartAt`:`I`,`States`:{" PASS_I "}},`End`:true}}}",
      "{}", "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", NULL, NULL },

    { "ResultWriter that is not putObject", DMAP("`ResultWriter`:{`Resource`:"
      "`arn:aws:states:::s3:getObject`,`Parameters`:{`Bucket`:`b`}},",
      PASS_I), "{}", "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", NULL,
      NULL },

    { "Label with a slash", DMAP("`Label`:`a/b`,", PASS_I), "{}",
      "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", NULL, NULL },

    { "ExecutionType inline",
      "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,`ItemProcessor`:{"
      "`ProcessorConfig`:{`Mode`:`INLINE`,`ExecutionType`:`EXPRESS`},"
      "`StartAt`:`I`,`States`:{" PASS_I "}},`End`:true}}}",
      "{}", "INVALID", NULL, "SCHEMA_VALIDATION_FAILED", NULL, NULL },
};


static void
test_maprun_table(void **state)
{
    (void) state;

    sfn_t_table(maprun_cases, sizeof(maprun_cases) / sizeof(maprun_cases[0]));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_items_and_selector),
        cmocka_unit_test(test_reader_writer),
        cmocka_unit_test(test_catch_and_stop),
        cmocka_unit_test(test_restore_asks_again),
        cmocka_unit_test(test_maprun_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
