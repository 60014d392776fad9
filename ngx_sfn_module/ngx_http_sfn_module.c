
/*
 * Copyright (C) ngx_sfn authors
 *
 * The module: its directives (zones, database, buckets, state machines
 * loaded and validated at configuration time, the location handlers),
 * configuration create/merge, and the process hooks.
 */


#include "ngx_http_sfn_module.h"
#include <sfn_task.h>


static void *ngx_http_sfn_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_sfn_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_sfn_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_sfn_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

static char *ngx_http_sfn_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_sfn_bucket(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_sfn_state_machine(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_sfn_upload(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_sfn_trigger(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_sfn_start(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_sfn_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_sfn_origin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_sfn_postconfiguration(ngx_conf_t *cf);

static ngx_int_t ngx_http_sfn_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_sfn_init_process(ngx_cycle_t *cycle);
static void ngx_http_sfn_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_sfn_commands[] = {

    { ngx_string("sfn_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_sfn_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_database"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_sfn_main_conf_t, database),
      NULL },

    { ngx_string("sfn_database_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_sfn_main_conf_t, database_queue),
      NULL },

    { ngx_string("sfn_database_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_sfn_main_conf_t, database_pool),
      NULL },

    { ngx_string("sfn_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_sfn_retention,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_express_log"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_sfn_main_conf_t, express_log),
      NULL },

    { ngx_string("sfn_region"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_sfn_main_conf_t, region),
      NULL },

    { ngx_string("sfn_account"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_sfn_main_conf_t, account),
      NULL },

    { ngx_string("sfn_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_sfn_main_conf_t, thread_pool_name),
      NULL },

    { ngx_string("sfn_bucket"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_sfn_bucket,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_integration"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_sfn_integration,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_mock_config"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_sfn_mock_config,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_state_machine"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE23,
      ngx_http_sfn_state_machine,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_upload"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_sfn_upload,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_trigger"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_sfn_trigger,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_start"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_sfn_start,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_origin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_sfn_origin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_sfn_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_aws_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_sfn_aws_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_aws_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_sfn_aws_credentials,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_api_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_sfn_api_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_console"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_sfn_console,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sfn_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_sfn_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_sfn_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_sfn_postconfiguration,        /* postconfiguration */

    ngx_http_sfn_create_main_conf,         /* create main configuration */
    ngx_http_sfn_init_main_conf,           /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_sfn_create_loc_conf,          /* create location configuration */
    ngx_http_sfn_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_sfn_module = {
    NGX_MODULE_V1,
    &ngx_http_sfn_module_ctx,              /* module context */
    ngx_http_sfn_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_sfn_init_module,              /* init module */
    ngx_http_sfn_init_process,             /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_sfn_exit_process,             /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_sfn_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_sfn_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_sfn_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     smcf->database = { 0, NULL };
     *     smcf->region = { 0, NULL };
     *     smcf->account = { 0, NULL };
     *     smcf->thread_pool_name = { 0, NULL };
     *     smcf->thread_pool = NULL;
     *     smcf->shm_zone = NULL;
     *     smcf->mock = NULL;
     */

    if (ngx_array_init(&smcf->buckets, cf->pool, 4,
                       sizeof(ngx_http_sfn_bucket_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&smcf->machines, cf->pool, 4,
                       sizeof(ngx_http_sfn_machine_t))
        != NGX_OK)
    {
        return NULL;
    }

    smcf->express_log = NGX_CONF_UNSET;
    smcf->database_queue = NGX_CONF_UNSET_SIZE;
    smcf->database_pool = NGX_CONF_UNSET;
    smcf->retention = NGX_CONF_UNSET_MSEC;
    smcf->retention_jobs = NGX_CONF_UNSET_MSEC;
    smcf->log = cf->log;

    return smcf;
}


static char *
ngx_http_sfn_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_sfn_main_conf_t *smcf = conf;

    u_char                  *p;
    size_t                   len;
    ngx_uint_t               i;
    ngx_http_sfn_machine_t  *sm;

    if (smcf->region.data == NULL) {
        ngx_str_set(&smcf->region, "us-east-1");
    }

    if (smcf->account.data == NULL) {
        ngx_str_set(&smcf->account, "000000000000");
    }

    if (smcf->thread_pool_name.data == NULL) {
        ngx_str_set(&smcf->thread_pool_name, "default");
    }

    ngx_conf_init_value(smcf->express_log, 0);
    ngx_conf_init_size_value(smcf->database_queue, 64 * 1024 * 1024);
    ngx_conf_init_value(smcf->database_pool, 4);
    ngx_conf_init_msec_value(smcf->retention, 0);
    ngx_conf_init_msec_value(smcf->retention_jobs, 0);

    if (smcf->database_pool < 1 || smcf->database_pool > 256) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"sfn_database_pool\" must be 1 to 256");
        return NGX_CONF_ERROR;
    }

    if (smcf->retention && smcf->database.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"sfn_retention\" requires \"sfn_database\"");
        return NGX_CONF_ERROR;
    }

    if (smcf->express_log && smcf->database.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"sfn_express_log\" requires \"sfn_database\"");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_sfn_integration_init(cf, smcf) != NGX_OK
        || ngx_http_sfn_mock_init(cf, smcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (smcf->machines.nelts == 0 && !smcf->aws_api) {
        return NGX_CONF_OK;
    }

    smcf->thread_pool = ngx_thread_pool_add(cf, &smcf->thread_pool_name);
    if (smcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    sm = smcf->machines.elts;

    for (i = 0; i < smcf->machines.nelts; i++) {
        len = sizeof("arn:aws:states:::stateMachine:") - 1
              + smcf->region.len + smcf->account.len + sm[i].name.len;

        /* a C string too: the engine and the database take it so */

        p = ngx_pnalloc(cf->pool, len + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        sm[i].arn.data = p;
        sm[i].arn.len = ngx_sprintf(p, "arn:aws:states:%V:%V:stateMachine:%V",
                                    &smcf->region, &smcf->account,
                                    &sm[i].name)
                        - p;
        p[sm[i].arn.len] = '\0';

        /*
         * the role AWS's console creates for a new state machine: AWS
         * requires one, and nginx.conf's machines act as nginx's worker
         */

        len = sizeof("arn:aws:iam:::role/service-role/StepFunctions--role")
              - 1 + smcf->account.len + sm[i].name.len;

        p = ngx_pnalloc(cf->pool, len + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        sm[i].role.data = p;
        sm[i].role.len = ngx_sprintf(p, "arn:aws:iam::%V:role/service-role/"
                                     "StepFunctions-%V-role",
                                     &smcf->account, &sm[i].name)
                         - p;
        p[sm[i].role.len] = '\0';
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_sfn_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_sfn_loc_conf_t  *slcf;

    slcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_sfn_loc_conf_t));
    if (slcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     slcf->upload = NULL;
     *     slcf->upload_name = { 0, NULL };
     *     slcf->triggers = NULL;
     *     slcf->start = NULL;
     *     slcf->start_name = { 0, NULL };
     *     slcf->origin = NULL;
     *     slcf->origin_name = { 0, NULL };
     *     slcf->aws_api = 0;
     *     slcf->api_keys = NULL;
     *     slcf->content = NULL;
     *     slcf->console = NULL;
     */

    slcf->api = NGX_CONF_UNSET;

    return slcf;
}


static char *
ngx_http_sfn_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_sfn_loc_conf_t *prev = parent;
    ngx_http_sfn_loc_conf_t *conf = child;

    ngx_uint_t                 i;
    ngx_path_t                *path;
    ngx_http_sfn_trigger_t    *tr;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_sfn_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_sfn_module);

    ngx_conf_merge_value(conf->api, prev->api, 0);

    if (ngx_http_sfn_auth_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->upload_name.data && conf->upload == NULL) {
        conf->upload = ngx_http_sfn_bucket_find(smcf, &conf->upload_name);
        if (conf->upload == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "sfn_upload: unknown bucket \"%V\"",
                               &conf->upload_name);
            return NGX_CONF_ERROR;
        }

        /*
         * the request body goes to a temporary file inside the bucket,
         * so that the final rename never crosses a file system
         */

        path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
        if (path == NULL) {
            return NGX_CONF_ERROR;
        }

        path->name.len = conf->upload->path.len + sizeof("/.sfn-upload") - 1;
        path->name.data = ngx_pnalloc(cf->pool, path->name.len + 1);
        if (path->name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(path->name.data, "%V/.sfn-upload%Z", &conf->upload->path);
        path->conf_file = cf->conf_file->file.name.data;
        path->line = cf->conf_file->line;

        if (ngx_add_path(cf, &path) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        clcf->client_body_temp_path = path;
    }

    if (conf->triggers) {
        tr = conf->triggers->elts;

        for (i = 0; i < conf->triggers->nelts; i++) {
            if (tr[i].machine) {
                continue;
            }

            tr[i].machine = ngx_http_sfn_machine_find(smcf, &tr[i].name);
            if (tr[i].machine == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "sfn_trigger: unknown state machine "
                                   "\"%V\"", &tr[i].name);
                return NGX_CONF_ERROR;
            }
        }
    }

    if (conf->origin_name.data && conf->origin == NULL) {
        conf->origin = ngx_http_sfn_bucket_find(smcf, &conf->origin_name);
        if (conf->origin == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "sfn_origin: unknown bucket \"%V\"",
                               &conf->origin_name);
            return NGX_CONF_ERROR;
        }

        /* an alias of the bucket: nginx's static handler serves the files */

        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        clcf->alias = clcf->name.len;
        clcf->root.len = conf->origin->path.len + 1;
        clcf->root.data = ngx_pnalloc(cf->pool, clcf->root.len + 1);
        if (clcf->root.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(clcf->root.data, "%V/%Z", &conf->origin->path);
        clcf->root_lengths = NULL;
        clcf->root_values = NULL;
    }

    if (conf->start_name.data && conf->start == NULL) {
        conf->start = ngx_http_sfn_machine_find(smcf, &conf->start_name);
        if (conf->start == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "sfn_start: unknown state machine \"%V\"",
                               &conf->start_name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


ngx_http_sfn_machine_t *
ngx_http_sfn_machine_find(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *name)
{
    ngx_uint_t               i;
    ngx_http_sfn_machine_t  *sm;

    sm = smcf->machines.elts;

    for (i = 0; i < smcf->machines.nelts; i++) {
        if (sm[i].name.len == name->len
            && ngx_strncmp(sm[i].name.data, name->data, name->len) == 0)
        {
            return &sm[i];
        }
    }

    return NULL;
}


ngx_http_sfn_bucket_t *
ngx_http_sfn_bucket_find(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *name)
{
    ngx_uint_t              i;
    ngx_http_sfn_bucket_t  *b;

    b = smcf->buckets.elts;

    for (i = 0; i < smcf->buckets.nelts; i++) {
        if (b[i].name.len == name->len
            && ngx_strncmp(b[i].name.data, name->data, name->len) == 0)
        {
            return &b[i];
        }
    }

    return NULL;
}


static char *
ngx_http_sfn_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_main_conf_t *smcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (smcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid sfn_zone size \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    smcf->shm_zone = ngx_shared_memory_add(cf, &value[1], size,
                                           &ngx_http_sfn_module);
    if (smcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (smcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "sfn_zone \"%V\" is already used", &value[1]);
        return NGX_CONF_ERROR;
    }

    smcf->shm_zone->init = ngx_http_sfn_shm_init_zone;
    smcf->shm_zone->data = smcf;

    return NGX_CONF_OK;
}


static char *
ngx_http_sfn_bucket(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_main_conf_t *smcf = conf;

    u_char                 *p;
    ngx_str_t              *value;
    ngx_path_t             *path;
    ngx_http_sfn_bucket_t  *b;

    value = cf->args->elts;

    if (ngx_http_sfn_bucket_find(smcf, &value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate sfn_bucket \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (value[1].len == 0 || ngx_strlchr(value[1].data,
                                         value[1].data + value[1].len, '/'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid sfn_bucket name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    b = ngx_array_push(&smcf->buckets);
    if (b == NULL) {
        return NGX_CONF_ERROR;
    }

    b->name = value[1];
    b->path = value[2];

    if (ngx_conf_full_name(cf->cycle, &b->path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    while (b->path.len > 1 && b->path.data[b->path.len - 1] == '/') {
        b->path.len--;
    }

    /* the task threads use the path as a C string */

    p = ngx_pnalloc(cf->pool, b->path.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    *ngx_cpymem(p, b->path.data, b->path.len) = '\0';
    b->path.data = p;

    /*
     * nginx creates the bucket at start, as it does its temporary paths;
     * its parents are made here
     */

    if (ngx_create_full_path(b->path.data, 0755) != 0) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, ngx_errno,
                           "cannot create the parents of \"%s\"",
                           b->path.data);
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    path->name = b->path;
    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_http_sfn_machine_cleanup(void *data)
{
    sfn_machine_t  *m = data;

    sfn_machine_free(m);
}


/* a file that nginx.conf names, read whole: what says what it is */

ngx_int_t
ngx_http_sfn_read_conf_file(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *text,
    size_t max, const char *what)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_info_t  fi;

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", name->data);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%s\" failed", name->data);
        goto failed;
    }

    if (ngx_file_size(&fi) > (off_t) max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s \"%s\" is larger than %uz MiB", what,
                           name->data, max / (1024 * 1024));
        goto failed;
    }

    text->len = ngx_file_size(&fi);
    text->data = ngx_pnalloc(cf->pool, text->len + 1);
    if (text->data == NULL) {
        goto failed;
    }

    n = read(fd, text->data, text->len);
    if (n != (ssize_t) text->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "read() \"%s\" failed", name->data);
        goto failed;
    }

    text->data[text->len] = '\0';

    ngx_close_file(fd);

    return NGX_OK;

failed:

    ngx_close_file(fd);

    return NGX_ERROR;
}


static char *
ngx_http_sfn_state_machine(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_main_conf_t *smcf = conf;

    ngx_str_t               *value, s;
    sfn_diag_t               diag;
    ngx_pool_cleanup_t      *cln;
    ngx_http_sfn_machine_t  *sm;

    value = cf->args->elts;

    if (ngx_http_sfn_machine_find(smcf, &value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate sfn_state_machine \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (value[1].len == 0 || value[1].len > NGX_HTTP_SFN_NAME_LEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid state machine name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    sm = ngx_array_push(&smcf->machines);
    if (sm == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(sm, sizeof(ngx_http_sfn_machine_t));

    sm->name = value[1];
    sm->file = value[2];
    sm->type = SFN_STANDARD;

    if (cf->args->nelts == 4) {
        s = value[3];

        if (s.len == sizeof("type=standard") - 1
            && ngx_strncmp(s.data, "type=standard", s.len) == 0)
        {
            sm->type = SFN_STANDARD;

        } else if (s.len == sizeof("type=express") - 1
                   && ngx_strncmp(s.data, "type=express", s.len) == 0)
        {
            sm->type = SFN_EXPRESS;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &s);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_conf_full_name(cf->cycle, &sm->file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_sfn_read_conf_file(cf, &sm->file, &sm->definition,
                                    1024 * 1024, "state machine")
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /*
     * every resource is taken here: sfn_integration may come later in
     * the file, and ngx_http_sfn_integration_init() checks them all
     */

    sm->machine = sfn_machine_load((char *) sm->definition.data,
                                   sm->definition.len, NULL, NULL, &diag);

    if (sm->machine == NULL) {
        if (diag.state[0]) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "sfn state machine \"%V\" in \"%V\": "
                               "state \"%s\": %s: %s",
                               &sm->name, &sm->file, diag.state, diag.code,
                               diag.message);

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "sfn state machine \"%V\" in \"%V\": %s: %s",
                               &sm->name, &sm->file, diag.code,
                               diag.message);
        }

        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        sfn_machine_free(sm->machine);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_sfn_machine_cleanup;
    cln->data = sm->machine;

    return NGX_CONF_OK;
}


static char *
ngx_http_sfn_upload(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_loc_conf_t *slcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (slcf->upload_name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    slcf->upload_name = value[1];

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_sfn_upload_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_sfn_trigger(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_loc_conf_t *slcf = conf;

    ngx_str_t               *value, *s;
    ngx_uint_t               i;
    ngx_array_t             *a;
    ngx_http_sfn_trigger_t  *tr;

    if (slcf->triggers == NULL) {
        slcf->triggers = ngx_array_create(cf->pool, 2,
                                          sizeof(ngx_http_sfn_trigger_t));
        if (slcf->triggers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    tr = ngx_array_push(slcf->triggers);
    if (tr == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    tr->name = value[1];
    tr->machine = NULL;

    if (ngx_array_init(&tr->suffixes, cf->pool, 2, sizeof(ngx_str_t))
        != NGX_OK
        || ngx_array_init(&tr->prefixes, cf->pool, 2, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "suffix=", 7) == 0) {
            a = &tr->suffixes;
            value[i].data += 7;
            value[i].len -= 7;

        } else if (ngx_strncmp(value[i].data, "prefix=", 7) == 0) {
            a = &tr->prefixes;
            value[i].data += 7;
            value[i].len -= 7;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        s = ngx_array_push(a);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_sfn_start(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_loc_conf_t *slcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        slcf->start_name = value[1];
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_sfn_start_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_sfn_origin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_loc_conf_t *slcf = conf;

    ngx_str_t  *value;

    if (slcf->origin_name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    slcf->origin_name = value[1];

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_sfn_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /* after access control, so allow/deny and auth_request compose */

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_sfn_origin_handler;

    return NGX_OK;
}


static char *
ngx_http_sfn_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_loc_conf_t *slcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (slcf->api != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    slcf->api = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_sfn_api_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_sfn_init_module(ngx_cycle_t *cycle)
{
    ngx_http_sfn_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_sfn_module);

    if (smcf == NULL || smcf->database.len == 0 || ngx_test_config) {
        return NGX_OK;
    }

    return ngx_http_sfn_pg_migrate(smcf, cycle->log);
}


static ngx_int_t
ngx_http_sfn_init_process(ngx_cycle_t *cycle)
{
    ngx_http_sfn_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_sfn_module);

    if (smcf == NULL || (smcf->machines.nelts == 0 && !smcf->aws_api)) {
        return NGX_OK;
    }

    if (sfn_task_global_init() != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "sfn: task library initialization failed");
        return NGX_ERROR;
    }

    sfn_task_db_pool_init(smcf->database_pool,
                          ngx_http_sfn_metrics_connections(cycle, 1));

    if (ngx_http_sfn_pg_init_process(cycle, smcf) != NGX_OK
        || ngx_http_sfn_retention_init_process(cycle, smcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_sfn_exec_init_process(cycle);
}


static void
ngx_http_sfn_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_sfn_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_sfn_module);

    /* nothing was set up by ngx_http_sfn_init_process() */

    if (smcf == NULL || (smcf->machines.nelts == 0 && !smcf->aws_api)) {
        return;
    }

    ngx_http_sfn_exec_exit_process(cycle);
    ngx_http_sfn_pg_exit_process(cycle);
    sfn_task_db_pool_close();
}
