
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn_mock_config: Step Functions Local's mock configuration, loaded and
 * checked when the configuration is, the test cases of nginx.conf's state
 * machines checked against them, and the test case a StartExecution
 * selects with a "#TestCase" suffix on its state machine ARN.
 */


#include "ngx_http_sfn_module.h"


/* a configuration of many test cases, each Return up to 256 KiB */
#define NGX_HTTP_SFN_MOCK_MAX  (16 * 1024 * 1024)


static void
ngx_http_sfn_mock_cleanup(void *data)
{
    sfn_mock_free(data);
}


char *
ngx_http_sfn_mock_config(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_main_conf_t *smcf = conf;

    char                 err[1024];
    ngx_str_t           *value, text;
    ngx_pool_cleanup_t  *cln;

    if (smcf->mock) {
        return "is duplicate";
    }

    value = cf->args->elts;
    smcf->mock_file = value[1];

    if (ngx_conf_full_name(cf->cycle, &smcf->mock_file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_sfn_read_conf_file(cf, &smcf->mock_file, &text,
                                    NGX_HTTP_SFN_MOCK_MAX,
                                    "mock configuration")
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    smcf->mock = sfn_mock_load((char *) text.data, text.len, err,
                               sizeof(err));

    /* the text is the configuration's, the parsed copy the engine's */

    ngx_pfree(cf->pool, text.data);

    if (smcf->mock == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "sfn_mock_config \"%V\": %s", &smcf->mock_file,
                           err);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        sfn_mock_free(smcf->mock);
        smcf->mock = NULL;
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_sfn_mock_cleanup;
    cln->data = smcf->mock;

    /* the machines may come later in the file: checked at its end */

    smcf->mock_conf = cf->conf_file->file.name;
    smcf->mock_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/* the test cases of nginx.conf's state machines name Task states of theirs */

ngx_int_t
ngx_http_sfn_mock_init(ngx_conf_t *cf, ngx_http_sfn_main_conf_t *smcf)
{
    char                     err[1024];
    ngx_uint_t               i;
    ngx_http_sfn_machine_t  *sm;

    if (smcf->mock == NULL) {
        return NGX_OK;
    }

    sm = smcf->machines.elts;

    for (i = 0; i < smcf->machines.nelts; i++) {
        if (sfn_mock_check_machine(smcf->mock, (char *) sm[i].name.data,
                                   sm[i].machine, err, sizeof(err))
            != SFN_OK)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "sfn_mock_config \"%V\": %s (state machine \"%V\" "
                          "of \"%V\") in %V:%ui", &smcf->mock_file, err,
                          &sm[i].name, &sm[i].file, &smcf->mock_conf,
                          smcf->mock_line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * "arn:...:stateMachine:Name#TestCase", as Step Functions Local takes
 * it: arn loses the suffix, test_case gets what follows the first '#'.
 * NGX_DECLINED when there is none.
 */
ngx_int_t
ngx_http_sfn_mock_split(ngx_str_t *arn, ngx_str_t *test_case)
{
    u_char  *p;

    p = ngx_strlchr(arn->data, arn->data + arn->len, '#');

    if (p == NULL) {
        ngx_str_null(test_case);
        return NGX_DECLINED;
    }

    test_case->data = p + 1;
    test_case->len = arn->data + arn->len - (p + 1);
    arn->len = p - arn->data;

    return NGX_OK;
}


/*
 * The test case of sm that a start asks for, checked against the
 * definition it runs; NULL with the reason in err, a message for the
 * client
 */
const sfn_mock_case_t *
ngx_http_sfn_mock_select(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_machine_t *sm, ngx_str_t *test_case, u_char *err,
    size_t size)
{
    int                     known;
    char                    msg[1024];
    const sfn_mock_case_t  *c;

    if (smcf->mock == NULL) {
        ngx_snprintf(err, size, "'#' selects a test case of a mock "
                     "configuration, and none is configured "
                     "(sfn_mock_config)%Z");
        return NULL;
    }

    if (test_case->len == 0) {
        ngx_snprintf(err, size, "the test case name after '#' is empty%Z");
        return NULL;
    }

    if (!sfn_utf8_valid((char *) test_case->data, test_case->len)) {
        ngx_snprintf(err, size, "the test case name is not UTF-8, or holds "
                     "U+0000%Z");
        return NULL;
    }

    if (ngx_strlchr(test_case->data, test_case->data + test_case->len, '#')) {
        ngx_snprintf(err, size, "a test case name cannot contain '#'%Z");
        return NULL;
    }

    /* the tail of the request's ARN, a C string already */

    c = sfn_mock_case(smcf->mock, (char *) sm->name.data,
                      (char *) test_case->data, &known);

    if (c == NULL) {
        if (known) {
            ngx_snprintf(err, size, "the mock configuration has no test case "
                         "'%V' for state machine '%V'%Z", test_case,
                         &sm->name);

        } else {
            ngx_snprintf(err, size, "the mock configuration has no test cases "
                         "for state machine '%V'%Z", &sm->name);
        }

        return NULL;
    }

    /* a machine of the API's is checked as it is now, at each start */

    if (sfn_mock_check(c, sm->machine, msg, sizeof(msg)) != SFN_OK) {
        ngx_snprintf(err, size, "%s%Z", msg);
        return NULL;
    }

    return c;
}
