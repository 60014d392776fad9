
/*
 * Copyright (C) ngx_sfn authors
 *
 * Durable executions: for every point between two host events, snapshot
 * the execution, free it, restore it and run on; the result must be the
 * one of an uninterrupted run.
 */


#include "sfn_test.h"


static const struct {
    const char  *def;
    const char  *input;
} snap_rows[] = {

    { "{`StartAt`:`W`,`States`:{`W`:{`Type`:`Wait`,`Seconds`:5,"
      "`Next`:`T`},`T`:{`Type`:`Task`,`Resource`:`test:sleep`,"
      "`Parameters`:{`seconds`:3,`v.$`:`$.v`},`TimeoutSeconds`:60,"
      "`HeartbeatSeconds`:30,`ResultPath`:`$.r`,`End`:true}}}",
      "{`v`:1}" },

    { "{`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:flaky`,"
      "`Retry`:[{`ErrorEquals`:[`E`],`MaxAttempts`:5,`IntervalSeconds`:2}],"
      "`Catch`:[{`ErrorEquals`:[`States.ALL`],`Next`:`F`}],`End`:true},"
      "`F`:{`Type`:`Fail`}}}",
      "{`failures`:3,`Error`:`E`}" },

    { "{`TimeoutSeconds`:100,`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,"
      "`MaxConcurrency`:2,`ItemsPath`:`$.xs`,`ItemSelector`:{`seconds.$`:"
      "`$$.Map.Item.Value`,`i.$`:`$$.Map.Item.Index`},`ItemProcessor`:{"
      "`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:sleep`,"
      "`Next`:`W`},`W`:{`Type`:`Wait`,`Seconds`:1,`End`:true}}},"
      "`ResultPath`:`$.out`,`Next`:`P`},`P`:{`Type`:`Parallel`,`Branches`:["
      "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Task`,`Resource`:`test:echo`,"
      "`End`:true}}},{`StartAt`:`B`,`States`:{`B`:{`Type`:`Wait`,"
      "`Seconds`:2,`End`:true}}}],`End`:true}}}",
      "{`xs`:[3,1,2,4]}" },

    { "{`StartAt`:`M`,`States`:{`M`:{`Type`:`Map`,`ItemBatcher`:{"
      "`MaxItemsPerBatch`:2},`ToleratedFailureCount`:5,`ItemProcessor`:{"
      "`StartAt`:`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:sleep`,"
      "`Parameters`:{`seconds`:1,`Error.$`:`States.Format('E{}', "
      "States.ArrayLength($.Items))`},`End`:true}}},`End`:true}}}",
      "[1,2,3]" },

    /* variables: the main scope and the iterations', across every point */
    { "{`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,`Assign`:{`k`:10,"
      "`xs.$`:`$.xs`},`Next`:`M`},`M`:{`Type`:`Map`,`MaxConcurrency`:2,"
      "`ItemsPath`:`$xs`,`ItemProcessor`:{`StartAt`:`I`,`States`:{`I`:{"
      "`Type`:`Pass`,`Assign`:{`mine.$`:`$`},`Next`:`W`},`W`:{`Type`:`Wait`,"
      "`SecondsPath`:`$mine`,`Next`:`O`},`O`:{`Type`:`Pass`,`Parameters`:{"
      "`v.$`:`States.MathAdd($mine, $k)`},`End`:true}}},`Assign`:{`k`:0},"
      "`Next`:`V`},`V`:{`Type`:`Wait`,`Seconds`:2,`Next`:`E`},"
      "`E`:{`Type`:`Pass`,`Parameters`:{`r.$`:`$`,`k.$`:`$k`},`End`:true}}}",
      "{`xs`:[3,1,2]}" },

    { "{`QueryLanguage`:`JSONata`,`StartAt`:`A`,`States`:{`A`:{`Type`:`Pass`,"
      "`Assign`:{`n`:`{% $states.input.n %}`},`Next`:`M`},`M`:{`Type`:`Map`,"
      "`Items`:`{% [1..$n] %}`,`ItemSelector`:{`i`:"
      "`{% $states.context.Map.Item.Value %}`},`ItemProcessor`:{`StartAt`:"
      "`T`,`States`:{`T`:{`Type`:`Task`,`Resource`:`test:sleep`,"
      "`Arguments`:{`seconds`:`{% $states.input.i %}`},`Assign`:{`s`:"
      "`{% $states.result.seconds * $n %}`},`Next`:`W`},`W`:{`Type`:`Wait`,"
      "`Seconds`:1,`Output`:`{% $s %}`,`End`:true}}},`Next`:`Z`},"
      "`Z`:{`Type`:`Pass`,`Output`:`{% [$states.input, $n] %}`,`End`:true}}}",
      "{`n`:3}" },
};


static void
test_every_point(void **state)
{
    int               k, steps, total;
    char             *def, *in, *snap, *expect_out, *expect_err;
    size_t            i;
    sfn_host_t        host;
    sfn_diag_t        d;
    sfn_exec_t       *e;
    sfn_t_host_t     *h;
    sfn_machine_t    *m;
    sfn_status_e      expect;
    const char       *error, *cause;
    sfn_exec_conf_t   conf;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);

    memset(&conf, 0, sizeof(conf));
    conf.name = "snap";

    for (i = 0; i < sizeof(snap_rows) / sizeof(snap_rows[0]); i++) {
        def = sfn_t_unquote(snap_rows[i].def);
        in = sfn_t_unquote(snap_rows[i].input);

        m = sfn_machine_load(def, strlen(def), NULL, NULL, &d);
        assert_non_null(m);

        /* the uninterrupted run */
        sfn_t_host_init(h, &host);
        e = sfn_exec_create(m, &host, &conf, in, strlen(in), &error, &cause);
        assert_non_null(e);
        sfn_exec_start(e);

        for (total = 0; sfn_exec_status(e) == SFN_RUNNING
                        && sfn_t_step(h, e); total++)
        {
            /* void */
        }

        expect = sfn_exec_status(e);
        expect_out = sfn_t_strdup(sfn_exec_output(e));
        expect_err = sfn_t_strdup(sfn_exec_error(e));
        sfn_exec_free(e);
        sfn_t_host_free(h);

        assert_true(total >= 2);

        for (k = 0; k <= total; k++) {
            sfn_t_host_init(h, &host);
            e = sfn_exec_create(m, &host, &conf, in, strlen(in), &error,
                                &cause);
            assert_non_null(e);
            sfn_exec_start(e);

            for (steps = 0; sfn_exec_status(e) == SFN_RUNNING; steps++) {
                if (steps == k) {
                    snap = sfn_exec_snapshot(e);
                    assert_non_null(snap);

                    sfn_exec_free(e);

                    e = sfn_exec_restore(m, &host, NULL, snap, strlen(snap));
                    if (e == NULL) {
                        fail_msg("row %zu step %d: restore failed: %s", i, k,
                                 snap);
                    }

                    free(snap);
                }

                if (!sfn_t_step(h, e)) {
                    break;
                }
            }

            if (sfn_exec_status(e) != expect
                || (expect_out && (sfn_exec_output(e) == NULL
                                   || !sfn_t_json_eq(expect_out,
                                                     sfn_exec_output(e))))
                || (expect_err && (sfn_exec_error(e) == NULL
                                   || strcmp(expect_err, sfn_exec_error(e))
                                      != 0)))
            {
                fail_msg("row %zu, snapshot at step %d: %s %s %s (want %s "
                         "%s %s)", i, k, sfn_status_name(sfn_exec_status(e)),
                         sfn_exec_output(e) ? sfn_exec_output(e) : "-",
                         sfn_exec_error(e) ? sfn_exec_error(e) : "-",
                         sfn_status_name(expect),
                         expect_out ? expect_out : "-",
                         expect_err ? expect_err : "-");
            }

            sfn_exec_free(e);
            sfn_t_host_free(h);
        }

        free(expect_out);
        free(expect_err);
        sfn_machine_free(m);
        free(def);
        free(in);
    }

    free(h);
}


static void
test_restore_rejects(void **state)
{
    char            *snap;
    const char      *def, *other, *error, *cause;
    sfn_host_t       host;
    sfn_diag_t       d;
    sfn_exec_t      *e;
    sfn_t_host_t    *h;
    sfn_machine_t   *m, *m2;
    sfn_exec_conf_t  conf;

    (void) state;

    h = calloc(1, sizeof(sfn_t_host_t));
    assert_non_null(h);
    sfn_t_host_init(h, &host);

    def = "{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\","
          "\"Seconds\":5,\"End\":true}}}";
    other = "{\"StartAt\":\"X\",\"States\":{\"X\":{\"Type\":\"Wait\","
            "\"Seconds\":5,\"End\":true}}}";

    m = sfn_machine_load(def, strlen(def), NULL, NULL, &d);
    m2 = sfn_machine_load(other, strlen(other), NULL, NULL, &d);
    assert_non_null(m);
    assert_non_null(m2);

    memset(&conf, 0, sizeof(conf));
    e = sfn_exec_create(m, &host, &conf, "{}", 2, &error, &cause);
    sfn_exec_start(e);

    snap = sfn_exec_snapshot(e);
    assert_non_null(snap);

    assert_null(sfn_exec_restore(m2, &host, NULL, snap, strlen(snap)));
    assert_null(sfn_exec_restore(m, &host, NULL, "{}", 2));
    assert_null(sfn_exec_restore(m, &host, NULL, "nope", 4));

    free(snap);

    /* a finished execution restores finished */
    while (sfn_t_step(h, e)) {
        /* void */
    }

    snap = sfn_exec_snapshot(e);
    sfn_exec_free(e);

    e = sfn_exec_restore(m, &host, NULL, snap, strlen(snap));
    assert_non_null(e);
    assert_int_equal(sfn_exec_status(e), SFN_SUCCEEDED);
    assert_string_equal(sfn_exec_output(e), "{}");

    free(snap);
    sfn_exec_free(e);
    sfn_machine_free(m);
    sfn_machine_free(m2);
    sfn_t_host_free(h);
    free(h);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_every_point),
        cmocka_unit_test(test_restore_rejects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
