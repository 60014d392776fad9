
/*
 * Copyright (C) ngx_sfn authors
 *
 * The service integrations' pure parts: which sfn_integration patterns
 * nginx -t takes, which rule a resource matches (an exact ARN first, then
 * the first pattern in order, the selected resource before the
 * integration ARN), and which Resources the map makes known.  Rows are
 * { input, expected }.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sfn_task.h"


typedef struct {
    const char           *pattern;
    int                   valid;
} sfn_t_pattern_t;


static const sfn_t_pattern_t  pattern_cases[] = {
    { "arn:aws:lambda:us-east-1:123456789012:function:Pay", 1 },
    { "arn:aws:lambda:*:*:function:*", 1 },
    { "arn:aws:lambda:*", 1 },
    { "arn:aws:sns:*:*:orders", 1 },
    { "arn:aws:glue:us-east-1:1:job/ETL-Job", 1 },
    { "arn:aws:sagemaker:*:*:training-job/*", 1 },
    { "arn:aws:s3:::my-data-bucket", 1 },
    { "arn:aws:dynamodb:*:*:table/Analytics", 1 },
    { "arn:aws:batch:*:*:job-queue/q?", 1 },
    { "arn:aws:states:::glue:startJobRun", 1 },
    { "arn:aws:states:::sagemaker:*", 1 },
    { "arn:aws:states:::dynamodb:putItem", 1 },
    { "arn:*", 1 },
    { "*", 1 },

    { "", 0 },
    { "foo", 0 },
    { "lambda:Pay", 0 },
    { "arn:aws:ec2:us-east-1:1:instance/i-1", 0 },
    { "arn:aws:iam::1:role/x", 0 },
    { "arn:aws:states:::glue:startJobRun.sync", 0 },
    { "arn:aws:lambda:*:*:function:X.waitForTaskToken", 0 },
    { "arn:aws:states:::mediaconvert:createJob", 0 },
    { "arn:aws:states:::ecs:runTask", 0 },
    { "arn:aws:lambda:*:*:function:a b", 0 },
    { "arn:aws:lambda:*:*:function:\x01", 0 },
    { "arn:aws:lambda:*:*:function:caf\xc3\xa9", 0 },
    { NULL, 0 }
};


static void
test_service_patterns(void **state)
{
    int                     failed;
    const char             *err;
    const sfn_t_pattern_t  *c;

    failed = 0;

    for (c = pattern_cases; c->pattern; c++) {
        err = sfn_service_pattern_check(c->pattern);

        if ((err == NULL) != c->valid) {
            print_error("pattern \"%s\": %s\n", c->pattern,
                        err ? err : "valid");
            failed++;
        }
    }

    assert_int_equal(failed, 0);
}


static const sfn_service_rule_t  rules[] = {
    { "arn:aws:lambda:*:*:function:*ip", "http://h/first", 1000, 100 },
    { "arn:aws:lambda:*:*:function:S*", "http://h/second", 1000, 100 },
    { "arn:aws:lambda:*:*:function:P*", "http://h/p", 1000, 100 },
    { "arn:aws:lambda:us-east-1:1:function:Pay", "http://h/pay", 1000, 100 },
    { "arn:aws:lambda:*:*:function:Pa?", "http://h/pa", 1000, 100 },
    { "arn:aws:states:::glue:startJobRun", "http://h/glue", 1000, 100 },
    { "arn:aws:glue:*:*:job/Nightly", "http://h/nightly", 1000, 100 },
};

static const sfn_service_map_t  map = {
    rules, sizeof(rules) / sizeof(rules[0]), "us-east-1", "1"
};


static const sfn_service_rule_t  catch_all[] = {
    { "*", "http://h/all", 1000, 100 },
};

static const sfn_service_map_t  all = { catch_all, 1, "us-east-1", "1" };


typedef struct {
    const char           *target;
    const char           *integration;
    const char           *url;          /* NULL: no rule */
} sfn_t_match_t;


static const sfn_t_match_t  match_cases[] = {
    { "arn:aws:lambda:us-east-1:1:function:Pay", NULL, "http://h/pay" },
    { "arn:aws:lambda:eu-west-1:1:function:Pay", NULL, "http://h/p" },
    { "arn:aws:lambda:us-east-1:1:function:Pat", NULL, "http://h/p" },
    { "arn:aws:lambda:us-east-1:1:function:Ship", NULL, "http://h/first" },
    { "arn:aws:lambda:us-east-1:1:function:Send", NULL, "http://h/second" },
    { "arn:aws:lambda:us-east-1:1:function:Other", NULL, NULL },
    { "arn:aws:lambda:us-east-1:1:function:", NULL, NULL },
    { "arn:aws:glue:us-east-1:1:job/Nightly",
      "arn:aws:states:::glue:startJobRun", "http://h/nightly" },
    { "arn:aws:glue:us-east-1:1:job/Other",
      "arn:aws:states:::glue:startJobRun", "http://h/glue" },
    { "arn:aws:sagemaker:us-east-1:1:training-job/t",
      "arn:aws:states:::sagemaker:createTrainingJob", NULL },
    { NULL, NULL, NULL }
};


static void
test_service_match(void **state)
{
    int                        failed;
    const sfn_t_match_t       *c;
    const sfn_service_rule_t  *r;

    failed = 0;

    for (c = match_cases; c->target; c++) {
        r = sfn_service_match(&map, c->target, c->integration);

        if ((r == NULL) != (c->url == NULL)
            || (r && strcmp(r->url, c->url) != 0))
        {
            print_error("\"%s\": %s, expected %s\n", c->target,
                        r ? r->url : "no rule", c->url ? c->url : "none");
            failed++;
        }
    }

    assert_null(sfn_service_match(NULL, "arn:aws:lambda:x", NULL));

    assert_int_equal(failed, 0);
}


typedef struct {
    const char           *resource;
    int                   known;
} sfn_t_known_t;


static const sfn_t_known_t  known_cases[] = {
    { "sfn:media:probe", 1 },
    { "arn:aws:states:::lambda:invoke", 1 },
    { "arn:aws:states:::dynamodb:putItem", 1 },
    { "arn:aws:lambda:us-east-1:1:function:Pay", 1 },
    { "arn:aws:lambda:us-east-1:1:function:Other", 0 },
    { "arn:aws:lambda:us-east-1:1:function:Pay.sync", 0 },
    { "arn:aws:states:::glue:startJobRun", 1 },
    { "arn:aws:states:::glue:startJobRun.sync", 1 },
    { "arn:aws:states:::sagemaker:createTrainingJob.sync", 0 },
    { "arn:aws:states:::ecs:runTask.sync", 0 },
    { NULL, 0 }
};


static void
test_service_known(void **state)
{
    int                    failed, known;
    const sfn_t_known_t   *c;
    sfn_service_map_t      none;

    failed = 0;

    for (c = known_cases; c->resource; c++) {
        known = sfn_service_known(&map, c->resource) != 0;

        if (known != c->known) {
            print_error("\"%s\": %s\n", c->resource,
                        known ? "known" : "unknown");
            failed++;
        }
    }

    assert_int_equal(failed, 0);

    /* a catch-all serves resources, not integrations it does not know */

    assert_true(sfn_service_known(&all,
                                  "arn:aws:lambda:us-east-1:1:function:F"));
    assert_true(sfn_service_known(&all,
                                  "arn:aws:states:::glue:startJobRun.sync"));
    assert_false(sfn_service_known(&all, "arn:aws:states:::ecs:runTask"));
    assert_false(sfn_service_known(&all,
                                   "arn:aws:states:::ecs:runTask.sync"));

    /* no rules: the built-in tasks only */

    memset(&none, 0, sizeof(none));

    assert_true(sfn_service_known(&none, "sfn:file:copy"));
    assert_false(sfn_service_known(&none,
                                   "arn:aws:states:::glue:startJobRun"));
    assert_false(sfn_service_known(NULL,
                                   "arn:aws:lambda:us-east-1:1:function:P"));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_service_patterns),
        cmocka_unit_test(test_service_match),
        cmocka_unit_test(test_service_known),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
