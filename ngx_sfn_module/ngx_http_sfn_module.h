
/*
 * Copyright (C) ngx_sfn authors
 */


#ifndef _NGX_HTTP_SFN_MODULE_H_INCLUDED_
#define _NGX_HTTP_SFN_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sfn_engine.h>
#include <sfn_task.h>


#define NGX_HTTP_SFN_NAME_LEN    80

/* how long a Standard execution stays claimed without a renewal */
#define NGX_HTTP_SFN_LEASE       "5 seconds"
#define NGX_HTTP_SFN_LEASE_MS    5000

/* a map run's child is named "<uuid>-<index>": where its index begins */
#define NGX_HTTP_SFN_MR_INDEX_AT "38"
#define NGX_UUID_LEN             36


typedef struct {
    ngx_str_t                    name;
    ngx_str_t                    path;      /* absolute, no trailing slash */
} ngx_http_sfn_bucket_t;


typedef struct {
    ngx_str_t                    name;
    ngx_str_t                    file;
    ngx_str_t                    arn;
    ngx_str_t                    definition;
    ngx_str_t                    role;      /* its IAM role ARN, a C string */
    ngx_str_t                    version;   /* ARN of a published version */
    sfn_type_e                   type;
    sfn_machine_t               *machine;
} ngx_http_sfn_machine_t;


/* a compiled API state machine in this worker's cache */
typedef struct {
    ngx_queue_t                  queue;
    ngx_pool_t                  *pool;
    ngx_str_t                    id;        /* its name, or version ARN */
    ngx_str_t                    key;       /* "<revision>/<updated_at>" */
    ngx_http_sfn_machine_t       sm;
} ngx_http_sfn_compiled_t;


typedef struct {
    ngx_str_t                    name;
    ngx_array_t                  suffixes;  /* ngx_str_t */
    ngx_array_t                  prefixes;  /* ngx_str_t */
    ngx_http_sfn_machine_t      *machine;
} ngx_http_sfn_trigger_t;


typedef struct ngx_http_sfn_shm_s  ngx_http_sfn_shm_t;
typedef struct ngx_http_sfn_metrics_s  ngx_http_sfn_metrics_t;
typedef struct ngx_http_sfn_console_s  ngx_http_sfn_console_t;


typedef struct {
    ngx_str_t                    id;
    ngx_str_t                    secret;
} ngx_http_sfn_aws_key_t;


typedef struct {
    ngx_array_t                  buckets;   /* ngx_http_sfn_bucket_t */
    ngx_array_t                  machines;  /* ngx_http_sfn_machine_t */
    ngx_str_t                    database;
    ngx_str_t                    region;
    ngx_str_t                    account;
    ngx_str_t                    thread_pool_name;
    ngx_thread_pool_t           *thread_pool;
    ngx_shm_zone_t              *shm_zone;
    ngx_http_sfn_shm_t          *sh;
    ngx_slab_pool_t             *shpool;
    ngx_log_t                   *log;
    ngx_array_t                 *aws_keys;  /* ngx_http_sfn_aws_key_t */
    ngx_shm_zone_t              *metrics_zone;
    ngx_http_sfn_metrics_t      *metrics;
    ngx_flag_t                   aws_api;   /* some location has it */
    ngx_flag_t                   express_log;
    size_t                       database_queue;    /* bytes */
    ngx_int_t                    database_pool;     /* connections */
    ngx_msec_t                   retention;         /* 0: off */
    ngx_msec_t                   retention_jobs;    /* 0: off */
    ngx_array_t                  integrations;  /* sfn_service_rule_t */
    sfn_service_map_t            services;      /* what the tasks read */
    sfn_mock_t                  *mock;          /* sfn_mock_config */
    ngx_str_t                    mock_file;
    ngx_str_t                    mock_conf;     /*   named in that file */
    ngx_uint_t                   mock_line;     /*   at that line */
} ngx_http_sfn_main_conf_t;


typedef struct {
    ngx_http_sfn_bucket_t       *upload;
    ngx_str_t                    upload_name;
    ngx_array_t                 *triggers;  /* ngx_http_sfn_trigger_t */
    ngx_http_sfn_machine_t      *start;
    ngx_str_t                    start_name;
    ngx_http_sfn_bucket_t       *origin;
    ngx_str_t                    origin_name;
    ngx_flag_t                   api;
    ngx_flag_t                   aws_api;
    ngx_array_t                 *api_keys;  /* ngx_str_t */
    ngx_http_handler_pt          content;   /* behind the key check */
    ngx_http_sfn_console_t      *console;
} ngx_http_sfn_loc_conf_t;


/* a snapshot of an execution record, copied out of shared memory */
typedef struct {
    ngx_str_t                    name;
    ngx_str_t                    arn;
    ngx_str_t                    machine;
    ngx_str_t                    state;
    ngx_str_t                    input;
    ngx_str_t                    output;
    ngx_str_t                    error;
    ngx_str_t                    cause;
    ngx_str_t                    trace;     /* StartExecution's traceHeader */
    ngx_str_t                    version;   /* the version it runs, */
    ngx_str_t                    alias;     /*   the alias that chose it */
    ngx_uint_t                   redrive_count;
    int64_t                      redrive_ms;
    sfn_status_e                 status;
    ngx_pid_t                    owner;     /* the worker that runs it */
    int64_t                      start_ms;
    int64_t                      stop_ms;
    double                       percent;   /* of the running task, or -1 */
    double                       fps;
    unsigned                     durable:1; /* a Standard one in PostgreSQL */
} ngx_http_sfn_record_t;


/* rec holds the final status, output, error and cause, borrowed */
typedef void (*ngx_http_sfn_finish_pt)(void *data,
    ngx_http_sfn_record_t *rec);


/* res is NULL when the statement failed; it is freed after the call */
typedef void (*ngx_http_sfn_pg_handler_pt)(void *data, void *res);


/*
 * A statement prepared on a connection the first time it is sent there,
 * then executed by name: parsed and planned once per connection, not per
 * call.  A static of the caller's.
 */
typedef struct {
    const char                  *name;
    const char                  *sql;
    ngx_uint_t                   generation; /* of the connection */
} ngx_http_sfn_pg_prepared_t;


/* a request for the worker that owns an execution */
typedef enum {
    NGX_HTTP_SFN_MSG_STOP = 1,
    NGX_HTTP_SFN_MSG_SUCCESS,
    NGX_HTTP_SFN_MSG_FAILURE,
    NGX_HTTP_SFN_MSG_HEARTBEAT,
    NGX_HTTP_SFN_MSG_STARTED,   /* an activity's task, by worker a */
    NGX_HTTP_SFN_MSG_REFUSED    /* an activity's task not scheduled */
} ngx_http_sfn_msg_kind_e;


typedef struct {
    ngx_http_sfn_msg_kind_e      kind;
    uint64_t                     task;
    int64_t                      posted;
    ngx_str_t                    arn;       /* the execution */
    ngx_str_t                    a;         /* output or error */
    ngx_str_t                    b;         /* cause */
} ngx_http_sfn_msg_t;


extern ngx_module_t  ngx_http_sfn_module;


/* ngx_http_sfn_util.c */
void ngx_http_sfn_random(void *buf, size_t len);
void ngx_http_sfn_random_reset(void);
size_t ngx_http_sfn_uuid(u_char *buf);
size_t ngx_http_sfn_iso8601(u_char *buf, int64_t ms);
int64_t ngx_http_sfn_now_ms(void);
char *ngx_http_sfn_strdup(ngx_pool_t *pool, const char *s);
ngx_int_t ngx_http_sfn_pstr(ngx_pool_t *pool, ngx_str_t *src,
    ngx_str_t *dst);
char *ngx_http_sfn_cstr(ngx_str_t *s);
ngx_int_t ngx_http_sfn_location_tail(ngx_http_request_t *r, ngx_str_t *tail);
ngx_int_t ngx_http_sfn_header(ngx_http_request_t *r, const char *name,
    const char *value);
ngx_int_t ngx_http_sfn_retry_after(ngx_http_request_t *r);
ngx_str_t *ngx_http_sfn_log_escape(ngx_pool_t *pool, ngx_str_t *src,
    ngx_str_t *dst);
ngx_table_elt_t *ngx_http_sfn_header_in(ngx_http_request_t *r,
    const char *name, size_t len, ngx_table_elt_t *after);
ngx_int_t ngx_http_sfn_body_text(ngx_http_request_t *r, size_t max,
    ngx_str_t *text);
const char *ngx_http_sfn_json_str(const cJSON *obj, const char *name);
cJSON *ngx_http_sfn_json_add_str(cJSON *obj, const char *name,
    ngx_str_t *value);
ngx_int_t ngx_http_sfn_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, ngx_buf_t *b);

/* ngx_http_sfn_module.c */
ngx_http_sfn_machine_t *ngx_http_sfn_machine_find(
    ngx_http_sfn_main_conf_t *smcf, ngx_str_t *name);
ngx_http_sfn_bucket_t *ngx_http_sfn_bucket_find(
    ngx_http_sfn_main_conf_t *smcf, ngx_str_t *name);
ngx_int_t ngx_http_sfn_read_conf_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *text, size_t max, const char *what);

/* ngx_http_sfn_machine.c */
sfn_machine_t *ngx_http_sfn_machine_load(ngx_str_t *definition,
    sfn_type_e type, sfn_diag_t *diag, size_t max, size_t *n);
ngx_http_sfn_compiled_t *ngx_http_sfn_machine_cached(ngx_str_t *id);
ngx_int_t ngx_http_sfn_machine_versions(ngx_str_t *name, ngx_pool_t *pool,
    ngx_str_t *json);
ngx_http_sfn_compiled_t *ngx_http_sfn_machine_cache_add(ngx_str_t *name,
    ngx_str_t *arn, ngx_str_t *version, ngx_str_t *key, sfn_type_e type,
    sfn_machine_t *m);
ngx_http_sfn_machine_t *ngx_http_sfn_machine_get(ngx_str_t *name,
    ngx_str_t *arn, ngx_str_t *version, ngx_str_t *key, sfn_type_e type,
    ngx_str_t *definition, ngx_log_t *log);

/* ngx_http_sfn_exec.c */
ngx_int_t ngx_http_sfn_exec_start(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_machine_t *sm, ngx_str_t *name, ngx_str_t *input,
    ngx_str_t *job, ngx_str_t *bucket, ngx_str_t *key, ngx_str_t *trace,
    ngx_str_t *alias, const sfn_mock_case_t *mock, ngx_str_t *arn,
    ngx_pool_t *pool);
ngx_int_t ngx_http_sfn_exec_on_finish(ngx_str_t *arn,
    ngx_http_sfn_finish_pt handler, void *data);
ngx_int_t ngx_http_sfn_exec_start_sync(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_machine_t *sm, ngx_str_t *name, ngx_str_t *input,
    ngx_str_t *alias, const sfn_mock_case_t *mock, ngx_str_t *arn,
    ngx_pool_t *pool);
ngx_int_t ngx_http_sfn_exec_start_child(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_machine_t *sm, ngx_str_t *name, ngx_str_t *input,
    ngx_str_t *map_run, ngx_http_sfn_finish_pt handler, void *data,
    sfn_exec_t *parent, ngx_pool_t *pool);
ngx_int_t ngx_http_sfn_exec_result(ngx_http_sfn_main_conf_t *smcf,
    ngx_str_t *arn, ngx_pool_t *pool, ngx_http_sfn_record_t *rec);
u_char *ngx_http_sfn_exec_arn(ngx_http_sfn_main_conf_t *smcf,
    sfn_type_e type, ngx_str_t *machine, ngx_str_t *name, ngx_pool_t *pool,
    ngx_str_t *arn);
ngx_int_t ngx_http_sfn_exec_init_process(ngx_cycle_t *cycle);
void ngx_http_sfn_exec_exit_process(ngx_cycle_t *cycle);

/* ngx_http_sfn_lease.c */
u_char *ngx_http_sfn_lease_owner(void);
void ngx_http_sfn_recover_row(ngx_http_sfn_main_conf_t *smcf, void *res,
    int row);

/* ngx_http_sfn_mail.c */
ngx_int_t ngx_http_sfn_exec_stop(ngx_http_sfn_main_conf_t *smcf,
    ngx_str_t *arn, ngx_str_t *error, ngx_str_t *cause, ngx_pool_t *pool);
ngx_int_t ngx_http_sfn_task_callback(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_msg_kind_e kind, ngx_str_t *token, ngx_str_t *a,
    ngx_str_t *b, ngx_pool_t *pool);
void ngx_http_sfn_exec_mail_notify(const char *payload);

/* ngx_http_sfn_aws_activity.c */
void ngx_http_sfn_activity_notify(const char *payload);

/* ngx_http_sfn_shm.c */
ngx_int_t ngx_http_sfn_shm_init_zone(ngx_shm_zone_t *zone, void *data);
ngx_int_t ngx_http_sfn_shm_put(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_record_t *rec);
ngx_int_t ngx_http_sfn_shm_get(ngx_http_sfn_main_conf_t *smcf,
    ngx_str_t *arn, ngx_pool_t *pool, ngx_http_sfn_record_t *rec);
ngx_int_t ngx_http_sfn_shm_status(ngx_http_sfn_main_conf_t *smcf,
    ngx_str_t *arn, sfn_status_e *status);

ngx_int_t ngx_http_sfn_shm_token_put(ngx_http_sfn_main_conf_t *smcf,
    ngx_str_t *token, ngx_str_t *arn, uint64_t task);
ngx_int_t ngx_http_sfn_shm_token_get(ngx_http_sfn_main_conf_t *smcf,
    ngx_str_t *token, ngx_pool_t *pool, ngx_str_t *arn, uint64_t *task);
ngx_int_t ngx_http_sfn_shm_token_close(ngx_http_sfn_main_conf_t *smcf,
    ngx_str_t *token);
void ngx_http_sfn_shm_token_delete(ngx_http_sfn_main_conf_t *smcf,
    ngx_str_t *token);
ngx_int_t ngx_http_sfn_shm_msg_post(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_msg_t *msg);
ngx_uint_t ngx_http_sfn_shm_msg_pending(ngx_http_sfn_main_conf_t *smcf);
ngx_uint_t ngx_http_sfn_shm_expire(ngx_http_sfn_main_conf_t *smcf,
    int64_t before_ms, ngx_uint_t max);
ngx_uint_t ngx_http_sfn_shm_reap(ngx_http_sfn_main_conf_t *smcf,
    ngx_pid_t gone);
ngx_uint_t ngx_http_sfn_shm_msg_take(ngx_http_sfn_main_conf_t *smcf,
    ngx_int_t (*accept)(ngx_http_sfn_msg_t *msg), int64_t expire_before,
    ngx_pool_t *pool, ngx_array_t *out);

/* ngx_http_sfn_pg.c */
ngx_int_t ngx_http_sfn_pg_migrate(ngx_http_sfn_main_conf_t *smcf,
    ngx_log_t *log);
ngx_int_t ngx_http_sfn_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_sfn_main_conf_t *smcf);
void ngx_http_sfn_pg_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_sfn_pg_exec(const char *sql, int nparams,
    const char *const *values);
ngx_int_t ngx_http_sfn_pg_query(const char *sql, int nparams,
    const char *const *values, ngx_http_sfn_pg_handler_pt handler,
    void *data);
ngx_int_t ngx_http_sfn_pg_query_alone(const char *sql, int nparams,
    const char *const *values, ngx_http_sfn_pg_handler_pt handler,
    void *data);
ngx_int_t ngx_http_sfn_pg_record(const char *sql, int nparams,
    const char *const *values, ngx_http_sfn_pg_handler_pt handler,
    void *data);
ngx_int_t ngx_http_sfn_pg_prepared(ngx_http_sfn_pg_prepared_t *ps,
    int nparams, const char *const *values,
    ngx_http_sfn_pg_handler_pt handler, void *data);
ngx_int_t ngx_http_sfn_pg_read(ngx_http_sfn_pg_prepared_t *ps,
    int nparams, const char *const *values,
    ngx_http_sfn_pg_handler_pt handler, void *data);
ngx_int_t ngx_http_sfn_pg_sweep(const char *sql, int nparams,
    const char *const *values, ngx_http_sfn_pg_handler_pt handler,
    void *data);
u_char *ngx_http_sfn_pg_text(ngx_pool_t *pool, ngx_str_t *s);
ngx_int_t ngx_http_sfn_pg_busy(void);
ngx_int_t ngx_http_sfn_pg_sync(void);
ngx_msec_t ngx_http_sfn_pg_since_outage(void);
ngx_int_t ngx_http_sfn_pg_affected(void *res);

/* ngx_http_sfn_upload.c, ngx_http_sfn_api.c, ngx_http_sfn_origin.c */
ngx_int_t ngx_http_sfn_upload_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_sfn_start_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_sfn_api_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_sfn_origin_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_sfn_send_json(ngx_http_request_t *r, ngx_uint_t status,
    cJSON *json);
ngx_int_t ngx_http_sfn_not_allowed(ngx_http_request_t *r, char *allow);
ngx_int_t ngx_http_sfn_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, const char *fmt, ...);
cJSON *ngx_http_sfn_record_json(ngx_http_sfn_record_t *rec);
ngx_int_t ngx_http_sfn_reply_durable(ngx_http_request_t *r,
    ngx_uint_t status, cJSON *reply);

/* ngx_http_sfn_aws.c, ngx_http_sfn_auth.c, ngx_http_sfn_metrics.c */
char *ngx_http_sfn_aws_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_sfn_aws_handler(ngx_http_request_t *r);
char *ngx_http_sfn_aws_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_sfn_api_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_sfn_auth_merge(ngx_conf_t *cf, ngx_http_sfn_loc_conf_t *prev,
    ngx_http_sfn_loc_conf_t *conf);
ngx_int_t ngx_http_sfn_auth_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_sfn_auth_key(ngx_http_request_t *r, ngx_array_t *keys);
ngx_int_t ngx_http_sfn_auth_sigv4(ngx_http_request_t *r,
    ngx_array_t *keys, ngx_str_t *body, const char **type,
    const char **message);
char *ngx_http_sfn_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
void ngx_http_sfn_metrics_exec(ngx_http_sfn_main_conf_t *smcf,
    ngx_str_t *machine, sfn_status_e status, int64_t ms);
void ngx_http_sfn_metrics_task_posted(ngx_http_sfn_main_conf_t *smcf);
void ngx_http_sfn_metrics_task(ngx_http_sfn_main_conf_t *smcf,
    const char *resource, ngx_uint_t ok, int64_t ms);
ngx_atomic_t *ngx_http_sfn_metrics_connections(ngx_cycle_t *cycle,
    ngx_uint_t use);
void ngx_http_sfn_metrics_retention(ngx_http_sfn_main_conf_t *smcf,
    ngx_uint_t executions, ngx_uint_t rows);

/* ngx_http_sfn_retention.c */
char *ngx_http_sfn_retention(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_sfn_retention_init_process(ngx_cycle_t *cycle,
    ngx_http_sfn_main_conf_t *smcf);

/* ngx_http_sfn_integration.c */
char *ngx_http_sfn_integration(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
int ngx_http_sfn_integration_known(void *data, const char *resource);
ngx_int_t ngx_http_sfn_integration_init(ngx_conf_t *cf,
    ngx_http_sfn_main_conf_t *smcf);

/* ngx_http_sfn_mock.c */
char *ngx_http_sfn_mock_config(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_sfn_mock_init(ngx_conf_t *cf,
    ngx_http_sfn_main_conf_t *smcf);
ngx_int_t ngx_http_sfn_mock_split(ngx_str_t *arn, ngx_str_t *test_case);
const sfn_mock_case_t *ngx_http_sfn_mock_select(
    ngx_http_sfn_main_conf_t *smcf, ngx_http_sfn_machine_t *sm,
    ngx_str_t *test_case, u_char *err, size_t size);

/* ngx_http_sfn_console.c */
char *ngx_http_sfn_console(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_SFN_MODULE_H_INCLUDED_ */
