
/*
 * Copyright (C) ngx_sfn authors
 *
 * What the AWS JSON 1.0 API's files share: the request context, the
 * protocol's helpers (replies, errors, request fields, ARNs, queries) in
 * ngx_http_sfn_aws.c, and the actions of ngx_http_sfn_aws_sm.c and
 * ngx_http_sfn_aws_exec.c that its dispatch table names.
 */


#ifndef _NGX_HTTP_SFN_AWS_H_INCLUDED_
#define _NGX_HTTP_SFN_AWS_H_INCLUDED_


#include "ngx_http_sfn_module.h"

#include <libpq-fe.h>


typedef struct ngx_http_sfn_aws_ctx_s  ngx_http_sfn_aws_ctx_t;

typedef ngx_int_t (*ngx_http_sfn_aws_op_pt)(ngx_http_sfn_aws_ctx_t *ctx);
typedef ngx_int_t (*ngx_http_sfn_aws_next_pt)(ngx_http_sfn_aws_ctx_t *ctx,
    PGresult *res);


/* a statement in flight; it outlives the request if the client goes */
typedef struct {
    ngx_http_sfn_aws_ctx_t      *ctx;
    ngx_http_sfn_aws_next_pt     next;
} ngx_http_sfn_aws_wait_t;


struct ngx_http_sfn_aws_ctx_s {
    ngx_http_request_t          *r;
    ngx_http_sfn_main_conf_t    *smcf;
    cJSON                       *body;
    ngx_http_sfn_aws_wait_t     *wait;
    ngx_event_t                  timeout;   /* of the wait */
    ngx_http_sfn_aws_op_pt       found;     /* after the machine is known */
    ngx_http_sfn_aws_next_pt     then;      /* after a version is published */
    ngx_http_sfn_machine_t      *sm;
    ngx_str_t                    sm_name;
    ngx_str_t                    exec_name;
    sfn_type_e                   exec_type; /* ":express:" or ":execution:" */
    ngx_str_t                    exec_arn;  /* the key of its record */
    ngx_str_t                    arn;       /* as the request gave it */
    ngx_str_t                    qualifier; /* a version or an alias */
    ngx_str_t                    alias;     /* the alias that chose sm */
    ngx_str_t                    input;
    ngx_str_t                    trace;     /* traceHeader, or none */
    ngx_str_t                    test_case; /* after the ARN's '#' */
    const sfn_mock_case_t       *mock;      /*   and what it selects */
    const char                  *type;
    u_char                      *message;
    int64_t                      start_ms;
    double                       date;      /* of a create or an update */
    u_char                      *revision;  /*   and its revision */
    ngx_int_t                    limit;     /* of a page */
    ngx_str_t                    cursor;    /* from its token, or none */
    ngx_str_t                    bind;      /* what its token is for */
    const char                  *logging;   /* the state machine's */
    const char                  *tracing;   /*   configurations as JSON, */
    const char                  *encryption; /*  NULL if not given */
    ngx_str_t                    map_run;   /* a child's, described */
    ngx_str_t                    label;
    unsigned                     sync:1;
    unsigned                     named:1;      /* by the caller */
    unsigned                     waiting:1;    /* for a sync execution */
    unsigned                     for_exec:1;
    unsigned                     qualify:1;    /* a version, an alias ok */
    unsigned                     version:1;    /* the qualifier is one */
    unsigned                     publish:1;    /* Create/Update's */
};


/* ngx_http_sfn_aws.c: the protocol */
ngx_int_t ngx_http_sfn_aws_send(ngx_http_request_t *r, ngx_uint_t status,
    cJSON *json);
ngx_int_t ngx_http_sfn_aws_invalid(ngx_http_sfn_aws_ctx_t *ctx,
    const char *type, const char *fmt, ...);
ngx_int_t ngx_http_sfn_aws_error(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_reply_error(ngx_http_sfn_aws_ctx_t *ctx,
    const char *type, const char *fmt, ...);
ngx_int_t ngx_http_sfn_aws_field(ngx_http_sfn_aws_ctx_t *ctx,
    const char *name, ngx_uint_t required, ngx_str_t *s);
ngx_int_t ngx_http_sfn_aws_length(ngx_http_sfn_aws_ctx_t *ctx,
    const char *name, ngx_str_t *s, size_t max);
ngx_int_t ngx_http_sfn_aws_name_valid(ngx_str_t *name);
u_char *ngx_http_sfn_aws_cstr(ngx_pool_t *pool, u_char *data, size_t len);
ngx_int_t ngx_http_sfn_aws_arn(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *arn,
    ngx_uint_t exec);
u_char *ngx_http_sfn_aws_exec_arn(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *sm,
    ngx_str_t *name);
ngx_str_t *ngx_http_sfn_aws_exec_key(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_str_t *sm);
u_char *ngx_http_sfn_aws_sm_arn(ngx_http_sfn_aws_ctx_t *ctx, ngx_str_t *sm);
double ngx_http_sfn_aws_epoch(PGresult *res, int row, int col);
ngx_int_t ngx_http_sfn_aws_query(ngx_http_sfn_aws_ctx_t *ctx,
    const char *sql, int nparams, const char **values,
    ngx_http_sfn_aws_next_pt next);
ngx_int_t ngx_http_sfn_aws_prepared(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_http_sfn_pg_prepared_t *ps, int nparams, const char **values,
    ngx_http_sfn_aws_next_pt next);
ngx_int_t ngx_http_sfn_aws_read(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_http_sfn_pg_prepared_t *ps, int nparams, const char **values,
    ngx_http_sfn_aws_next_pt next);
ngx_int_t ngx_http_sfn_aws_query_alone(ngx_http_sfn_aws_ctx_t *ctx,
    const char *sql, int nparams, const char **values,
    ngx_http_sfn_aws_next_pt next);
sfn_machine_t *ngx_http_sfn_aws_compile(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_str_t *definition, sfn_type_e type);
ngx_int_t ngx_http_sfn_aws_machine(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_http_sfn_aws_op_pt found);
ngx_int_t ngx_http_sfn_aws_machine_loaded(ngx_http_sfn_aws_ctx_t *ctx,
    PGresult *res);
ngx_int_t ngx_http_sfn_aws_sm_field(ngx_http_sfn_aws_ctx_t *ctx,
    const char *field);
ngx_int_t ngx_http_sfn_aws_sm_named(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_str_t *arn);
ngx_int_t ngx_http_sfn_aws_exec_field(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_page(ngx_http_sfn_aws_ctx_t *ctx, ngx_int_t dflt,
    u_char kind, ngx_str_t *bind);
ngx_int_t ngx_http_sfn_aws_cursor_name(ngx_http_sfn_aws_ctx_t *ctx,
    u_char *data, size_t len, ngx_str_t *name);
ngx_int_t ngx_http_sfn_aws_next_token(ngx_http_sfn_aws_ctx_t *ctx,
    cJSON *json, u_char kind, ngx_str_t *bind, u_char *cursor, size_t len);
cJSON *ngx_http_sfn_aws_list_reply(const char *member, cJSON **list);

ngx_int_t ngx_http_sfn_aws_number(ngx_http_sfn_aws_ctx_t *ctx,
    const char *name, ngx_int_t min, ngx_int_t max, ngx_int_t *n);
ngx_int_t ngx_http_sfn_aws_alias_name_valid(ngx_str_t *name);

/* ngx_http_sfn_aws_sm.c: state-machine actions and tags */
ngx_int_t ngx_http_sfn_aws_create(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_describe_sm(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_update(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_delete(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_list_sms(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_validate(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_describe_sm_exec(
    ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_tag(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_untag(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_list_tags(ngx_http_sfn_aws_ctx_t *ctx);
char *ngx_http_sfn_aws_tags(ngx_http_sfn_aws_ctx_t *ctx, cJSON *tags);

/* ngx_http_sfn_aws_version.c: versions and aliases */
ngx_int_t ngx_http_sfn_aws_publish(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_publish_then(ngx_http_sfn_aws_ctx_t *ctx,
    const char *revision, const char *description,
    ngx_http_sfn_aws_next_pt next);
ngx_int_t ngx_http_sfn_aws_list_versions(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_delete_version(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_create_alias(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_describe_alias(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_update_alias(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_delete_alias(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_list_aliases(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_version_machine(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_describe_version(ngx_http_sfn_aws_ctx_t *ctx);

/* ngx_http_sfn_aws_redrive.c: RedriveExecution */
ngx_int_t ngx_http_sfn_aws_redrive(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_redrive_fields(cJSON *json, sfn_type_e type,
    const char *status, double stop, ngx_uint_t count, double date);

/* ngx_http_sfn_aws_exec.c: execution actions */
ngx_int_t ngx_http_sfn_aws_start(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_start_sync(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_describe_exec(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_list_execs(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_history(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_stop(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_task_success(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_task_failure(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_heartbeat(ngx_http_sfn_aws_ctx_t *ctx);

/* ngx_http_sfn_aws_activity.c: activities and their workers' long polls */
ngx_int_t ngx_http_sfn_aws_create_activity(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_describe_activity(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_delete_activity(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_list_activities(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_get_activity_task(ngx_http_sfn_aws_ctx_t *ctx);

/* ngx_http_sfn_aws_maprun.c: map runs */
ngx_int_t ngx_http_sfn_aws_describe_map_run(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_list_map_runs(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_update_map_run(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_list_map_run_execs(ngx_http_sfn_aws_ctx_t *ctx);
ngx_int_t ngx_http_sfn_aws_map_run_of(ngx_http_sfn_aws_ctx_t *ctx,
    ngx_str_t *arn, ngx_str_t *label);

/* ngx_http_sfn_aws_test.c: TestState */
ngx_int_t ngx_http_sfn_aws_test_state(ngx_http_sfn_aws_ctx_t *ctx);


#endif /* _NGX_HTTP_SFN_AWS_H_INCLUDED_ */
