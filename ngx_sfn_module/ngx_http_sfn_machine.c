
/*
 * Copyright (C) ngx_sfn authors
 *
 * The compiled-machine cache: state machines of PostgreSQL (those created
 * through the AWS API) loaded, validated and compiled once per revision,
 * and their versions once each, into a cache of this worker; those of
 * nginx.conf are compiled at configuration time and found with
 * ngx_http_sfn_machine_find().
 */


#include "ngx_http_sfn_module.h"
#include <sfn_task.h>


static ngx_queue_t  ngx_http_sfn_compiled;


/* state machines from PostgreSQL, compiled once per revision */

static void
ngx_http_sfn_machine_express_check(void *data, const char *resource)
{
    ngx_uint_t *bad = data;

    size_t  len;

    len = ngx_strlen(resource);

    if (sfn_resource_activity(resource)) {
        *bad = 2;
        return;
    }

    if ((len > 5 && ngx_strcmp(resource + len - 5, ".sync") == 0)
        || (len > 17
            && ngx_strcmp(resource + len - 17, ".waitForTaskToken") == 0))
    {
        *bad = 1;
    }
}


/*
 * loads and validates a definition; NULL when invalid, with up to max
 * diagnostics in diag and their number in *n
 */

sfn_machine_t *
ngx_http_sfn_machine_load(ngx_str_t *definition, sfn_type_e type,
    sfn_diag_t *diag, size_t max, size_t *n)
{
    ngx_uint_t      bad;
    sfn_machine_t  *m;

    m = sfn_machine_load_all((char *) definition->data, definition->len,
                             ngx_http_sfn_integration_known,
                             ngx_http_cycle_get_module_main_conf(
                                 ngx_cycle, ngx_http_sfn_module),
                             diag, max, n);

    if (m == NULL || type != SFN_EXPRESS) {
        return m;
    }

    bad = 0;
    sfn_machine_resources(m, ngx_http_sfn_machine_express_check, &bad);

    if (!bad) {
        return m;
    }

    sfn_machine_free(m);

    *n = 1;

    ngx_memzero(diag, sizeof(sfn_diag_t));
    ngx_cpystrn((u_char *) diag->code, (u_char *) "SCHEMA_VALIDATION_FAILED",
                sizeof(diag->code));
    ngx_cpystrn((u_char *) diag->location, (u_char *) "/States",
                sizeof(diag->location));
    ngx_cpystrn((u_char *) diag->message,
                (u_char *) (bad == 2
                            ? "Express state machine does not support "
                              "Activity ARN"
                            : "Express state machines do not support "
                              "'.sync' or '.waitForTaskToken' service "
                              "integrations"),
                sizeof(diag->message));

    return NULL;
}


static void
ngx_http_sfn_machine_cleanup(void *data)
{
    sfn_machine_t  *m = data;

    sfn_machine_free(m);
}


/* by the state machine's name, or by the ARN of one of its versions */

ngx_http_sfn_compiled_t *
ngx_http_sfn_machine_cached(ngx_str_t *id)
{
    ngx_queue_t              *q;
    ngx_http_sfn_compiled_t  *am;

    if (ngx_http_sfn_compiled.next == NULL) {
        ngx_queue_init(&ngx_http_sfn_compiled);
    }

    for (q = ngx_queue_head(&ngx_http_sfn_compiled);
         q != ngx_queue_sentinel(&ngx_http_sfn_compiled);
         q = ngx_queue_next(q))
    {
        am = ngx_queue_data(q, ngx_http_sfn_compiled_t, queue);

        if (am->id.len == id->len
            && ngx_strncmp(am->id.data, id->data, id->len) == 0)
        {
            return am;
        }
    }

    return NULL;
}


static ngx_uint_t
ngx_http_sfn_machine_version_of(ngx_http_sfn_compiled_t *am, ngx_str_t *name)
{
    return am->sm.version.len && am->sm.name.len == name->len
           && ngx_strncmp(am->sm.name.data, name->data, name->len) == 0;
}


/*
 * The versions of state machine name in this cache as a JSON object,
 * {"<version ARN>": "<key>"}, for a query to send only the definitions
 * the cache lacks.  ARNs and keys hold no character JSON escapes (names
 * exclude '"' and '\\', keys are numbers).
 */

ngx_int_t
ngx_http_sfn_machine_versions(ngx_str_t *name, ngx_pool_t *pool,
    ngx_str_t *json)
{
    u_char                   *p;
    size_t                    len;
    ngx_queue_t              *q;
    ngx_http_sfn_compiled_t  *am;

    if (ngx_http_sfn_compiled.next == NULL) {
        ngx_queue_init(&ngx_http_sfn_compiled);
    }

    len = sizeof("{}");

    for (q = ngx_queue_head(&ngx_http_sfn_compiled);
         q != ngx_queue_sentinel(&ngx_http_sfn_compiled);
         q = ngx_queue_next(q))
    {
        am = ngx_queue_data(q, ngx_http_sfn_compiled_t, queue);

        if (ngx_http_sfn_machine_version_of(am, name)) {
            len += am->sm.version.len + am->key.len + sizeof("\"\":\"\",");
        }
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    json->data = p;
    *p++ = '{';

    for (q = ngx_queue_head(&ngx_http_sfn_compiled);
         q != ngx_queue_sentinel(&ngx_http_sfn_compiled);
         q = ngx_queue_next(q))
    {
        am = ngx_queue_data(q, ngx_http_sfn_compiled_t, queue);

        if (ngx_http_sfn_machine_version_of(am, name)) {
            if (p != json->data + 1) {
                *p++ = ',';
            }

            p = ngx_sprintf(p, "\"%V\":\"%V\"", &am->sm.version, &am->key);
        }
    }

    *p++ = '}';
    *p = '\0';
    json->len = p - json->data;

    return NGX_OK;
}


/*
 * Adds a compiled revision to this worker's cache, taking m.  The revision
 * it replaces is not freed: executions of this worker may still run it; it
 * goes with the worker.
 */

ngx_http_sfn_compiled_t *
ngx_http_sfn_machine_cache_add(ngx_str_t *name, ngx_str_t *arn,
    ngx_str_t *version, ngx_str_t *key, sfn_type_e type, sfn_machine_t *m)
{
    ngx_pool_t               *pool;
    ngx_pool_cleanup_t       *cln;
    ngx_http_sfn_compiled_t  *am, *old;

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        sfn_machine_free(m);
        return NULL;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        sfn_machine_free(m);
        ngx_destroy_pool(pool);
        return NULL;
    }

    cln->handler = ngx_http_sfn_machine_cleanup;
    cln->data = m;

    am = ngx_pcalloc(pool, sizeof(ngx_http_sfn_compiled_t));
    if (am == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    am->pool = pool;
    am->sm.machine = m;
    am->sm.type = type;
    if (ngx_http_sfn_pstr(pool, key, &am->key) != NGX_OK
        || ngx_http_sfn_pstr(pool, name, &am->sm.name) != NGX_OK
        || ngx_http_sfn_pstr(pool, arn, &am->sm.arn) != NGX_OK
        || (version && version->len
            && ngx_http_sfn_pstr(pool, version, &am->sm.version) != NGX_OK))
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    am->id = am->sm.version.len ? am->sm.version : am->sm.name;

    old = ngx_http_sfn_machine_cached(&am->id);

    if (old) {
        ngx_queue_remove(&old->queue);
    }

    ngx_queue_insert_head(&ngx_http_sfn_compiled, &am->queue);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "sfn aws api: state machine \"%V\" revision %V compiled",
                   &am->sm.name, &am->key);

    return am;
}


/*
 * The compiled definition of an API state machine at revision key (as
 * revision::text || '/' || extract(epoch FROM updated_at)::text), or of
 * its version (key: extract(epoch FROM created_at)::text), from this
 * worker's cache, else compiled from definition (NULL: the cache only).
 * For the execution driver's recovery, which finds only nginx.conf's
 * state machines with ngx_http_sfn_machine_find().
 */

ngx_http_sfn_machine_t *
ngx_http_sfn_machine_get(ngx_str_t *name, ngx_str_t *arn, ngx_str_t *version,
    ngx_str_t *key, sfn_type_e type, ngx_str_t *definition, ngx_log_t *log)
{
    size_t                    n;
    sfn_diag_t                diag;
    sfn_machine_t            *m;
    ngx_http_sfn_compiled_t  *am;

    am = ngx_http_sfn_machine_cached((version && version->len) ? version
                                                                : name);

    if (am && am->key.len == key->len
        && ngx_strncmp(am->key.data, key->data, key->len) == 0)
    {
        return &am->sm;
    }

    if (definition == NULL) {
        return NULL;
    }

    m = ngx_http_sfn_machine_load(definition, type, &diag, 1, &n);

    if (m == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "sfn state machine \"%V\": %s: %s", name, diag.code,
                      diag.message);
        return NULL;
    }

    am = ngx_http_sfn_machine_cache_add(name, arn, version, key, type, m);

    return am ? &am->sm : NULL;
}
