
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn_integration: the AWS resources of definitions (Lambda functions,
 * SNS topics, Glue jobs, SageMaker jobs...) sent to the user's HTTP
 * endpoints; the rules are checked here, matched by the tasks
 * (tasks/sfn_task_service.c), and the definitions of nginx.conf are
 * checked against them once the http{} block is read.
 */


#include "ngx_http_sfn_module.h"
#include <sfn_task.h>


#define NGX_HTTP_SFN_INTEGRATION_TIMEOUT  60000
#define NGX_HTTP_SFN_INTEGRATION_POLL     5000


static ngx_int_t
ngx_http_sfn_integration_time(ngx_conf_t *cf, ngx_str_t *value,
    size_t skip, ngx_msec_t min, ngx_msec_t max, ngx_msec_t *ms)
{
    ngx_str_t  s;
    ngx_int_t  n;

    s.data = value->data + skip;
    s.len = value->len - skip;

    n = ngx_parse_time(&s, 0);

    if (n == NGX_ERROR || (ngx_msec_t) n < min || (ngx_msec_t) n > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\": a time from %Mms to %Mms",
                           value, min, max);
        return NGX_ERROR;
    }

    *ms = (ngx_msec_t) n;

    return NGX_OK;
}


/* sfn_integration ARN URL [timeout=TIME] [poll=TIME] */

char *
ngx_http_sfn_integration(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_main_conf_t *smcf = conf;

    u_char              *p;
    ngx_str_t           *value;
    ngx_url_t            u;
    ngx_msec_t           timeout, poll;
    ngx_uint_t           i;
    const char          *err;
    sfn_service_rule_t  *rule;

    value = cf->args->elts;

    for (i = 1; i < 3; i++) {
        if (ngx_strlen(value[i].data) != value[i].len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": a NUL byte", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    err = sfn_service_pattern_check((const char *) value[1].data);

    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" %s", &value[1], err);
        return NGX_CONF_ERROR;
    }

    /* an absolute http(s) URL with a host, as proxy_pass takes it */

    ngx_memzero(&u, sizeof(ngx_url_t));

    if (value[2].len > 7
        && ngx_strncasecmp(value[2].data, (u_char *) "http://", 7) == 0)
    {
        u.url.data = value[2].data + 7;
        u.url.len = value[2].len - 7;
        u.default_port = 80;

    } else if (value[2].len > 8
               && ngx_strncasecmp(value[2].data, (u_char *) "https://", 8)
                  == 0)
    {
        u.url.data = value[2].data + 8;
        u.url.len = value[2].len - 8;
        u.default_port = 443;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\": http:// or https:// and a "
                           "host", &value[2]);
        return NGX_CONF_ERROR;
    }

    u.uri_part = 1;
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.host.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid URL \"%V\"%s%s",
                           &value[2], u.err ? ": " : "",
                           u.err ? u.err : "");
        return NGX_CONF_ERROR;
    }

    for (p = value[2].data; p < value[2].data + value[2].len; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid URL \"%V\": a space or a control "
                               "character", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    timeout = NGX_HTTP_SFN_INTEGRATION_TIMEOUT;
    poll = NGX_HTTP_SFN_INTEGRATION_POLL;

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            if (ngx_http_sfn_integration_time(cf, &value[i], 8, 1,
                                              3600 * 1000, &timeout)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "poll=", 5) == 0) {
            if (ngx_http_sfn_integration_time(cf, &value[i], 5, 10,
                                              3600 * 1000, &poll)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (smcf->integrations.elts == NULL
        && ngx_array_init(&smcf->integrations, cf->pool, 4,
                          sizeof(sfn_service_rule_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    rule = smcf->integrations.elts;

    for (i = 0; i < smcf->integrations.nelts; i++) {
        if (ngx_strcmp(rule[i].pattern, value[1].data) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate sfn_integration \"%V\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    rule = ngx_array_push(&smcf->integrations);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the configuration's strings end in NUL: the threads read them so */

    rule->pattern = (const char *) value[1].data;
    rule->url = (const char *) value[2].data;
    rule->timeout = (long) timeout;
    rule->poll = (long) poll;

    return NGX_CONF_OK;
}


int
ngx_http_sfn_integration_known(void *data, const char *resource)
{
    ngx_http_sfn_main_conf_t *smcf = data;

    /* an activity's ARN: its tasks are queued for its workers */

    return sfn_service_known(smcf ? &smcf->services : NULL, resource)
           || sfn_resource_activity(resource);
}


typedef struct {
    ngx_http_sfn_main_conf_t    *smcf;
    const char                  *unknown;
} ngx_http_sfn_integration_check_t;


static void
ngx_http_sfn_integration_resource(void *data, const char *resource)
{
    ngx_http_sfn_integration_check_t *ck = data;

    if (ck->unknown == NULL
        && !ngx_http_sfn_integration_known(ck->smcf, resource))
    {
        ck->unknown = resource;
    }
}


/*
 * Once the http{} block is read: the map the tasks read, and every state
 * machine of nginx.conf checked against it, whichever came first in the
 * file; a failure says what the definition's check says.
 */

ngx_int_t
ngx_http_sfn_integration_init(ngx_conf_t *cf, ngx_http_sfn_main_conf_t *smcf)
{
    ngx_uint_t                         i;
    sfn_diag_t                         diag;
    sfn_machine_t                     *m;
    ngx_http_sfn_machine_t            *sm;
    ngx_http_sfn_integration_check_t   ck;

    smcf->services.rules = smcf->integrations.elts;
    smcf->services.nrules = smcf->integrations.nelts;
    smcf->services.region = (const char *) smcf->region.data;
    smcf->services.account = (const char *) smcf->account.data;

    sm = smcf->machines.elts;

    for (i = 0; i < smcf->machines.nelts; i++) {
        ck.smcf = smcf;
        ck.unknown = NULL;

        sfn_machine_resources(sm[i].machine,
                              ngx_http_sfn_integration_resource, &ck);

        if (ck.unknown == NULL) {
            continue;
        }

        ngx_memzero(&diag, sizeof(sfn_diag_t));

        m = sfn_machine_load((char *) sm[i].definition.data,
                             sm[i].definition.len,
                             ngx_http_sfn_integration_known, smcf, &diag);

        if (m) {
            /* not expected: the definition's check names it anyway */
            sfn_machine_free(m);
        }

        if (diag.state[0]) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "sfn state machine \"%V\" in \"%V\": "
                          "state \"%s\": %s: %s (no task and no "
                          "sfn_integration for \"%s\")",
                          &sm[i].name, &sm[i].file, diag.state, diag.code,
                          diag.message, ck.unknown);

        } else {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "sfn state machine \"%V\" in \"%V\": no task and "
                          "no sfn_integration for \"%s\"",
                          &sm[i].name, &sm[i].file, ck.unknown);
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}
