
/*
 * Copyright (C) ngx_sfn authors
 *
 * Map runs (sql/016_map_runs.sql): a distributed Map's children run as
 * executions of its ItemProcessor, named "<machine>/<label>", by the
 * worker that owns the parent.  Items come from the state's input or from
 * a bucket (ngx_http_sfn_maprun_io.c), one at a time: a posted event
 * (the pump) starts children while fewer than MaxConcurrency run and
 * yields after a bounded slice, so a map run of any size never holds the
 * event loop.  Express children live in this worker only, with no record;
 * Standard ones are durable executions as any other.
 *
 * Children end in any order; their results are kept in a ring until every
 * earlier item has ended, then written in item order (the state's output
 * array, or ResultWriter's files), so that nothing of an item is kept
 * once it is written.  The ring bounds how far the reader runs ahead of
 * the oldest child still running.  The row holds the map run's counts,
 * written every second and at the end; UpdateMapRun changes its limits
 * there, and the owner reads them back with each write.  A map run taken
 * over with its parent goes on from the row's progress, with the Standard
 * children recorded since (ngx_http_sfn_maprun_found()).
 */


#include "ngx_http_sfn_maprun.h"


#define NGX_HTTP_SFN_MR_SLICE      256      /* children started a turn */
#define NGX_HTTP_SFN_MR_RING       4096     /* items ahead of the oldest */
#define NGX_HTTP_SFN_MR_FLUSH      1000     /* ms between row writes */
#define NGX_HTTP_SFN_MR_BUSY       100      /* ms: PostgreSQL's queue full */
#define NGX_HTTP_SFN_MR_FILE       (256 * 1024 * 1024)


static ngx_queue_t  ngx_http_sfn_maprun_all;
static ngx_uint_t   ngx_http_sfn_maprun_inited;


static void ngx_http_sfn_maprun_pump(ngx_event_t *ev);
static void ngx_http_sfn_maprun_flush_row(ngx_http_sfn_maprun_t *mr,
    ngx_uint_t final);
static void ngx_http_sfn_maprun_free(ngx_http_sfn_maprun_t *mr);


static void
ngx_http_sfn_maprun_post(ngx_http_sfn_maprun_t *mr)
{
    if (!mr->pump.posted && !mr->pump.timer_set && !mr->done) {
        ngx_post_event(&mr->pump, &ngx_posted_next_events);
    }
}


void
ngx_http_sfn_maprun_fail(ngx_http_sfn_maprun_t *mr, const char *error,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    if (mr->error) {
        return;
    }

    /* the caller's may be freed: a copy */
    ngx_cpystrn(mr->error_buf, (u_char *) error, sizeof(mr->error_buf));
    mr->error = (char *) mr->error_buf;

    va_start(args, fmt);
    p = ngx_vslprintf(mr->cause, mr->cause + sizeof(mr->cause) - 1, fmt,
                      args);
    va_end(args);

    *p = '\0';
}


/* the results: the state's output array, bounded as a payload is */

static void
ngx_http_sfn_maprun_out(ngx_http_sfn_maprun_t *mr, u_char *data, size_t len)
{
    size_t   need, size;
    u_char  *p;

    if (mr->out_over) {
        return;
    }

    need = mr->out.len + len + 2;

    if (need > SFN_MAX_PAYLOAD + 2) {
        /* it would fail as States.DataLimitExceeded: nothing more kept */
        mr->out_over = 1;
        return;
    }

    if (need > mr->out_size) {
        size = ngx_max(need, mr->out_size * 2);
        p = ngx_alloc(size, ngx_cycle->log);
        if (p == NULL) {
            mr->out_over = 1;
            return;
        }

        if (mr->out.len) {
            ngx_memcpy(p, mr->out.data, mr->out.len);
        }

        ngx_free(mr->out.data);
        mr->out.data = p;
        mr->out_size = size;
    }

    mr->out.data[mr->out.len] = mr->out.len ? ',' : '[';
    mr->out.len++;
    ngx_memcpy(mr->out.data + mr->out.len, data, len);
    mr->out.len += len;
}


/*
 * ResultWriter with WriterConfig alone: the output as its Transformation
 * makes it, a failure's record returned unchanged (NONE)
 */

static void
ngx_http_sfn_maprun_shape(ngx_http_sfn_maprun_t *mr,
    ngx_http_sfn_mr_slot_t *s)
{
    char   *text;
    cJSON  *arr, *v;

    if (s->status != SFN_SUCCEEDED
        || mr->transform == NGX_HTTP_SFN_MR_NONE)
    {
        text = ngx_http_sfn_maprun_record(mr, s);
        if (text == NULL) {
            mr->out_over = 1;
            return;
        }

        ngx_http_sfn_maprun_out(mr, (u_char *) text, ngx_strlen(text));
        free(text);
        return;
    }

    arr = (mr->transform == NGX_HTTP_SFN_MR_FLATTEN)
          ? ngx_http_sfn_maprun_flatten(&s->output) : NULL;

    if (arr == NULL) {
        ngx_http_sfn_maprun_out(mr, s->output.data, s->output.len);
        return;
    }

    cJSON_ArrayForEach(v, arr) {
        text = sfn_json_print(v);
        if (text == NULL) {
            mr->out_over = 1;
            break;
        }

        ngx_http_sfn_maprun_out(mr, (u_char *) text, ngx_strlen(text));
        free(text);
    }

    cJSON_Delete(arr);
}


/* an item's child has ended and every earlier one too: its result */

static void
ngx_http_sfn_maprun_emit(ngx_http_sfn_maprun_t *mr,
    ngx_http_sfn_mr_slot_t *s)
{
    cJSON  *o;
    char   *text;

    if (mr->writer) {
        if (ngx_http_sfn_maprun_write(mr, s) != NGX_OK) {
            ngx_http_sfn_maprun_fail(mr, "States.ResultWriterFailed",
                                     "the results could not be written");
        }
        return;
    }

    if (mr->shaped) {
        ngx_http_sfn_maprun_shape(mr, s);
        return;
    }

    if (s->status == SFN_SUCCEEDED) {
        ngx_http_sfn_maprun_out(mr, s->output.data, s->output.len);
        return;
    }

    o = cJSON_CreateObject();
    if (o == NULL) {
        mr->out_over = 1;
        return;
    }

    if (s->error.len) {
        ngx_http_sfn_json_add_str(o, "Error", &s->error);
    }

    if (s->cause.len) {
        ngx_http_sfn_json_add_str(o, "Cause", &s->cause);
    }

    text = sfn_json_print(o);
    cJSON_Delete(o);

    if (text == NULL) {
        mr->out_over = 1;
        return;
    }

    ngx_http_sfn_maprun_out(mr, (u_char *) text, ngx_strlen(text));
    free(text);
}


static void
ngx_http_sfn_maprun_slot_clear(ngx_http_sfn_mr_slot_t *s)
{
    ngx_free(s->input.data);
    ngx_free(s->output.data);
    ngx_free(s->error.data);
    ngx_free(s->cause.data);

    ngx_str_null(&s->input);
    ngx_str_null(&s->output);
    ngx_str_null(&s->error);
    ngx_str_null(&s->cause);

    s->used = 0;
    s->ended = 0;
}


static void
ngx_http_sfn_maprun_advance(ngx_http_sfn_maprun_t *mr)
{
    ngx_http_sfn_mr_slot_t  *s;

    while (mr->base < mr->next) {
        s = &mr->ring[mr->base % mr->ring_size];

        if (!s->ended) {
            break;
        }

        ngx_http_sfn_maprun_emit(mr, s);

        switch (s->status) {
        case SFN_SUCCEEDED:
            mr->c_succeeded++;
            break;
        case SFN_TIMED_OUT:
            mr->c_timed_out++;
            mr->c_failed++;
            break;
        case SFN_ABORTED:
            mr->c_aborted++;
            mr->c_failed++;
            break;
        default:
            mr->c_failed++;
            break;
        }

        ngx_http_sfn_maprun_slot_clear(s);

        mr->base++;
    }
}


static ngx_int_t
ngx_http_sfn_maprun_dup(ngx_str_t *dst, ngx_str_t *src)
{
    ngx_str_null(dst);

    if (src->len == 0) {
        return NGX_OK;
    }

    dst->data = ngx_alloc(src->len, ngx_cycle->log);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);
    dst->len = src->len;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_sfn_maprun_tolerated(ngx_http_sfn_maprun_t *mr, ngx_uint_t at_end)
{
    if (mr->failed == 0) {
        return 1;
    }

    if (mr->tol_count < 0 && mr->tol_pct < 0) {
        return 0;
    }

    if (mr->tol_count >= 0 && (int64_t) mr->failed > mr->tol_count) {
        if (mr->tol_pct < 0 || !at_end) {
            return 0;
        }
    }

    if (mr->tol_pct >= 0) {
        if (!at_end || mr->total == 0) {
            /* the share is known once every item is read */
            return mr->tol_count < 0
                   || (int64_t) mr->failed <= mr->tol_count;
        }

        if ((double) mr->failed * 100.0 / (double) mr->total
            > mr->tol_pct)
        {
            return mr->tol_count >= 0
                   && (int64_t) mr->failed <= mr->tol_count;
        }
    }

    return 1;
}


/* a child ended: from its worker's run, maybe inside its own start */

static void
ngx_http_sfn_maprun_child_done(void *data, ngx_http_sfn_record_t *rec)
{
    ngx_http_sfn_mr_slot_t *s = data;

    ngx_http_sfn_maprun_t  *mr;

    mr = s->mr;

    s->status = rec->status;
    s->stop_ms = rec->stop_ms;
    s->ended = 1;

    mr->running--;

    switch (rec->status) {

    case SFN_SUCCEEDED:
        mr->succeeded++;
        break;

    case SFN_TIMED_OUT:
        mr->timed_out++;
        mr->failed++;
        break;

    case SFN_ABORTED:
        mr->aborted++;
        mr->failed++;
        break;

    default:
        mr->failed++;
        break;
    }

    if ((rec->status == SFN_SUCCEEDED
         && ngx_http_sfn_maprun_dup(&s->output, &rec->output) != NGX_OK)
        || ngx_http_sfn_maprun_dup(&s->error, &rec->error) != NGX_OK
        || ngx_http_sfn_maprun_dup(&s->cause, &rec->cause) != NGX_OK)
    {
        ngx_http_sfn_maprun_fail(mr, "States.Runtime", "out of memory");
    }

    if (rec->status != SFN_SUCCEEDED && !mr->error
        && !ngx_http_sfn_maprun_tolerated(mr, 0))
    {
        ngx_http_sfn_maprun_fail(mr,
                                 "States.ExceedToleratedFailureThreshold",
                                 "The specified tolerated failure threshold "
                                 "was exceeded");
    }

    ngx_http_sfn_maprun_post(mr);
}


/*
 * A resumed map run's Standard children: those recorded from its last
 * progress on are found again a window at a time (sql/019), in item
 * order, as the pump reaches their items; one that has ended gives its
 * result as recorded, one still running is resumed here from its last
 * step, claimed for this worker, and tells its map run its end.  Only the
 * items none was recorded for start a child.
 */

static void
ngx_http_sfn_maprun_found_free(ngx_http_sfn_mr_found_t *f)
{
    ngx_free(f->arn.data);
    ngx_free(f->output.data);
    ngx_free(f->error.data);
    ngx_free(f->cause.data);

    ngx_memzero(f, sizeof(ngx_http_sfn_mr_found_t));
}


static void
ngx_http_sfn_maprun_found_done(void *data, ngx_http_sfn_record_t *rec)
{
    ngx_http_sfn_mr_found_t *f = data;

    f->ended = 1;
    f->status = rec->status;
    f->stop_ms = rec->stop_ms;

    /* no memory for its output: it is taken as failed */

    if ((rec->status == SFN_SUCCEEDED
         && ngx_http_sfn_maprun_dup(&f->output, &rec->output) != NGX_OK)
        || ngx_http_sfn_maprun_dup(&f->error, &rec->error) != NGX_OK
        || ngx_http_sfn_maprun_dup(&f->cause, &rec->cause) != NGX_OK)
    {
        f->status = SFN_FAILED;
    }
}


/*
 * The children found and not yet reached are let go: stopped, unless the
 * worker goes or the parent went elsewhere (the next owner finds them)
 */

static void
ngx_http_sfn_maprun_found_close(ngx_http_sfn_maprun_t *mr)
{
    ngx_uint_t                i;
    ngx_http_sfn_run_t       *run;
    ngx_http_sfn_mr_found_t  *f;

    if (mr->found == NULL) {
        return;
    }

    for (i = mr->found_pos; i < mr->found_n; i++) {
        f = &mr->found[i];

        run = f->ended ? NULL : ngx_http_sfn_run_find(&f->arn);

        if (run) {
            run->on_finish = NULL;
            run->on_finish_data = NULL;

            if (!mr->leaving) {
                (void) sfn_exec_stop(run->exec, "States.Aborted",
                                     "the map run ended");
                ngx_http_sfn_run_after(run);
            }
        }

        ngx_http_sfn_maprun_found_free(f);
    }

    ngx_free(mr->found);
    mr->found = NULL;
    mr->found_n = 0;
    mr->found_pos = 0;
}


static sfn_status_e
ngx_http_sfn_maprun_status(const char *name)
{
    sfn_status_e  st;

    for (st = SFN_SUCCEEDED; st <= SFN_ABORTED; st++) {
        if (ngx_strcmp(name, sfn_status_name(st)) == 0) {
            return st;
        }
    }

    return SFN_RUNNING;
}


static void
ngx_http_sfn_maprun_found(void *data, void *res)
{
    ngx_http_sfn_maprun_t *mr = data;

    int                       i, n;
    ngx_str_t                 v;
    ngx_http_sfn_run_t       *run;
    ngx_http_sfn_mr_found_t  *f;

    PGresult  *r = res;

    mr->queries--;
    mr->find_wait = 0;

    if (mr->closed) {
        if (r && !mr->leaving) {
            /* claimed for a map run that ended meanwhile: aborted */
            for (i = 0; i < PQntuples(r); i++) {
                if (!PQgetisnull(r, i, 22)
                    && ngx_strcmp(PQgetvalue(r, i, 22), "RUNNING") == 0)
                {
                    run = ngx_http_sfn_recover(mr->smcf, r, i, mr->child,
                                               NULL, NULL);
                    if (run) {
                        (void) sfn_exec_stop(run->exec, "States.Aborted",
                                             "the map run ended");
                        ngx_http_sfn_run_after(run);
                    }
                }
            }
        }

        if (mr->queries == 0) {
            ngx_http_sfn_maprun_free(mr);
        }

        return;
    }

    n = r ? PQntuples(r) : 0;

    if (r == NULL
        || (n == 1 && ngx_strcmp(PQgetvalue(r, 0, 18), "wait") == 0))
    {
        /* the database out of reach, or a child still leased: again */
        ngx_add_timer(&mr->find, NGX_HTTP_SFN_MR_FLUSH);
        return;
    }

    ngx_http_sfn_maprun_found_close(mr);

    mr->found_more = ((size_t) n == mr->ring_size);

    if (n == 0) {
        ngx_http_sfn_maprun_post(mr);
        return;
    }

    mr->found = ngx_alloc(n * sizeof(ngx_http_sfn_mr_found_t),
                          ngx_cycle->log);
    if (mr->found == NULL) {
        ngx_http_sfn_maprun_fail(mr, "States.Runtime", "out of memory");
        ngx_http_sfn_maprun_post(mr);
        return;
    }

    ngx_memzero(mr->found, n * sizeof(ngx_http_sfn_mr_found_t));
    mr->found_n = n;

    for (i = 0; i < n; i++) {
        f = &mr->found[i];

        f->index = ngx_atoof((u_char *) PQgetvalue(r, i, 21),
                             PQgetlength(r, i, 21));
        f->start_ms = ngx_atoof((u_char *) PQgetvalue(r, i, 3),
                                PQgetlength(r, i, 3));
        f->status = ngx_http_sfn_maprun_status(PQgetvalue(r, i, 22));

        v.data = (u_char *) PQgetvalue(r, i, 10);
        v.len = PQgetlength(r, i, 10);

        if (ngx_http_sfn_maprun_dup(&f->arn, &v) != NGX_OK) {
            f->ended = 1;
            f->status = SFN_FAILED;
            continue;
        }

        if (f->status != SFN_RUNNING) {
            ngx_http_sfn_record_t  rec;

            ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));
            rec.status = f->status;
            rec.stop_ms = PQgetisnull(r, i, 26)
                          ? 0 : ngx_atoof((u_char *) PQgetvalue(r, i, 26),
                                          PQgetlength(r, i, 26));
            rec.output.data = (u_char *) PQgetvalue(r, i, 23);
            rec.output.len = PQgetlength(r, i, 23);
            rec.error.data = (u_char *) PQgetvalue(r, i, 24);
            rec.error.len = PQgetlength(r, i, 24);
            rec.cause.data = (u_char *) PQgetvalue(r, i, 25);
            rec.cause.len = PQgetlength(r, i, 25);

            ngx_http_sfn_maprun_found_done(f, &rec);
            continue;
        }

        /* running here already (its owner's map run had it), or resumed */

        run = ngx_http_sfn_run_find(&f->arn);

        if (run) {
            run->on_finish = ngx_http_sfn_maprun_found_done;
            run->on_finish_data = f;
            continue;
        }

        run = ngx_http_sfn_recover(mr->smcf, r, i, mr->child,
                                   ngx_http_sfn_maprun_found_done, f);

        if (run == NULL && !f->ended) {
            /* its snapshot does not fit its ItemProcessor: logged */
            f->ended = 1;
            f->status = SFN_FAILED;
            ngx_str_set(&v, "States.Runtime");
            (void) ngx_http_sfn_maprun_dup(&f->error, &v);
            ngx_str_set(&v, "the child execution could not be resumed");
            (void) ngx_http_sfn_maprun_dup(&f->cause, &v);
        }
    }

    mr->find_from = mr->found[n - 1].index + 1;

    /* a stop may have come for them while they had no owner */
    ngx_http_sfn_mail_poll();

    ngx_http_sfn_maprun_post(mr);
}


static void
ngx_http_sfn_maprun_find(ngx_event_t *ev)
{
    ngx_http_sfn_maprun_t *mr = ev->data;

    const char  *values[4];
    u_char       from[NGX_INT64_LEN + 1], limit[NGX_INT64_LEN + 1];

    if (mr->done || mr->find_wait) {
        return;
    }

    *ngx_sprintf(from, "%uL", mr->find_from) = '\0';
    *ngx_sprintf(limit, "%uz", mr->ring_size) = '\0';

    values[0] = (char *) mr->arn.data;
    values[1] = (char *) from;
    values[2] = (char *) limit;
    values[3] = (char *) ngx_http_sfn_lease_owner();

    if (ngx_http_sfn_pg_query(
            "SELECT * FROM sfn_map_run_children($1, $2::bigint, $3::int, "
            "$4, interval '" NGX_HTTP_SFN_LEASE "')",
            4, values, ngx_http_sfn_maprun_found, mr)
        != NGX_OK)
    {
        ngx_add_timer(&mr->find, NGX_HTTP_SFN_MR_FLUSH);
        return;
    }

    mr->queries++;
    mr->find_wait = 1;
}


/*
 * The child recorded for the pump's next item, if any: NGX_AGAIN while
 * its window is being read
 */

static ngx_int_t
ngx_http_sfn_maprun_found_next(ngx_http_sfn_maprun_t *mr,
    ngx_http_sfn_mr_found_t **found)
{
    ngx_http_sfn_mr_found_t  *f;

    *found = NULL;

    if (!mr->finding) {
        return NGX_OK;
    }

    if (mr->found_pos == mr->found_n) {
        if (!mr->found_more) {
            mr->finding = 0;
            ngx_http_sfn_maprun_found_close(mr);
            return NGX_OK;
        }

        if (!mr->find_wait && !mr->find.timer_set) {
            ngx_http_sfn_maprun_find(&mr->find);
        }

        return NGX_AGAIN;
    }

    f = &mr->found[mr->found_pos];

    if (f->index == mr->next) {
        mr->found_pos++;
        *found = f;
    }

    return NGX_OK;
}


/* the item's child was found: its end, now or when it comes */

static ngx_int_t
ngx_http_sfn_maprun_adopt(ngx_http_sfn_maprun_t *mr,
    ngx_http_sfn_mr_slot_t *s, ngx_http_sfn_mr_found_t *f)
{
    ngx_http_sfn_record_t  rec;

    s->start_ms = f->start_ms;

    if (!f->ended
        && ngx_http_sfn_exec_on_finish(&f->arn,
                                       ngx_http_sfn_maprun_child_done, s)
           == NGX_OK)
    {
        ngx_http_sfn_maprun_found_free(f);
        return NGX_OK;
    }

    ngx_memzero(&rec, sizeof(ngx_http_sfn_record_t));

    rec.status = f->ended ? f->status : SFN_FAILED;
    rec.stop_ms = f->stop_ms;
    rec.output = f->output;
    rec.error = f->error;
    rec.cause = f->cause;

    ngx_http_sfn_maprun_child_done(s, &rec);
    ngx_http_sfn_maprun_found_free(f);

    return NGX_OK;
}


/* the next child's input: an item, or a batch of them */

static cJSON *
ngx_http_sfn_maprun_next_input(ngx_http_sfn_maprun_t *mr)
{
    char       *text;
    size_t      size, isz;
    cJSON      *item, *batch, *items;
    ngx_int_t   rc;
    ngx_uint_t  n;

    if (!mr->batching) {
        rc = ngx_http_sfn_maprun_item(mr, &item);
        mr->yield = (rc == NGX_AGAIN);
        return rc == NGX_OK ? item : NULL;
    }

    /* a batch the reader left unfinished goes on as it was */

    batch = mr->partial;
    items = batch ? cJSON_GetObjectItemCaseSensitive(batch, "Items") : NULL;
    size = mr->partial_size;
    n = items ? (ngx_uint_t) cJSON_GetArraySize(items) : 0;
    mr->partial = NULL;
    mr->partial_size = 0;

    for ( ;; ) {
        if (mr->held) {
            item = mr->held;
            mr->held = NULL;

        } else {
            rc = ngx_http_sfn_maprun_item(mr, &item);

            if (rc == NGX_AGAIN) {
                /* the same batch whatever the turns: a restart skips it */
                mr->partial = batch;
                mr->partial_size = size;
                mr->yield = 1;
                return NULL;
            }

            if (rc != NGX_OK) {
                break;
            }
        }

        isz = mr->held_size;
        mr->held_size = 0;

        if (isz == 0) {
            text = sfn_json_print(item);
            if (text == NULL) {
                cJSON_Delete(item);
                cJSON_Delete(batch);
                ngx_http_sfn_maprun_fail(mr, "States.Runtime",
                                         "out of memory");
                return NULL;
            }

            isz = ngx_strlen(text) + 1;
            free(text);
        }

        if (n > 0
            && ((mr->batch_items && (int64_t) n >= mr->batch_items)
                || size + isz > (size_t) mr->batch_bytes))
        {
            mr->held = item;
            mr->held_size = isz;
            break;
        }

        if (batch == NULL) {
            batch = cJSON_CreateObject();
            items = cJSON_CreateArray();

            if (batch == NULL || items == NULL) {
                cJSON_Delete(batch);
                cJSON_Delete(items);
                cJSON_Delete(item);
                ngx_http_sfn_maprun_fail(mr, "States.Runtime",
                                         "out of memory");
                return NULL;
            }

            if (mr->batch_input) {
                cJSON_AddItemToObject(batch, "BatchInput",
                                      cJSON_Duplicate(mr->batch_input, 1));
            }

            cJSON_AddItemToObject(batch, "Items", items);
        }

        cJSON_AddItemToArray(items, item);
        size += isz;
        n++;
    }

    if (batch && mr->error) {
        cJSON_Delete(batch);
        return NULL;
    }

    return batch;
}


static ngx_int_t
ngx_http_sfn_maprun_start_child(ngx_http_sfn_maprun_t *mr)
{
    char                     *text, *error, *cause;
    cJSON                    *in;
    u_char                    buf[NGX_HTTP_SFN_NAME_LEN + 1];
    ngx_str_t                 name, input;
    ngx_int_t                 rc;
    ngx_http_sfn_mr_slot_t   *s;
    ngx_http_sfn_mr_found_t  *f;

    in = mr->retry;
    mr->retry = NULL;

    while (in == NULL && mr->skip) {
        /* done before a restart: read again, not run again */
        in = ngx_http_sfn_maprun_next_input(mr);
        if (in == NULL) {
            return mr->error ? NGX_ERROR : mr->yield ? NGX_AGAIN : NGX_DONE;
        }

        cJSON_Delete(in);
        in = NULL;
        mr->skip--;
        mr->next++;
        mr->base++;
    }

    f = NULL;

    if (in == NULL
        && ngx_http_sfn_maprun_found_next(mr, &f) == NGX_AGAIN)
    {
        return NGX_AGAIN;
    }

    if (in == NULL) {
        in = ngx_http_sfn_maprun_next_input(mr);
        if (in == NULL) {
            return mr->yield ? NGX_AGAIN : NGX_DONE;
        }

        in = sfn_exec_map_item(mr->exec, mr->id, in, (size_t) mr->next,
                               &error, &cause);
        if (in == NULL) {
            ngx_http_sfn_maprun_fail(mr, error ? error : "States.Runtime",
                                     "%s", cause ? cause : "");
            free(error);
            free(cause);
            return NGX_ERROR;
        }
    }

    text = sfn_json_print(in);
    if (text == NULL) {
        cJSON_Delete(in);
        ngx_http_sfn_maprun_fail(mr, "States.Runtime", "out of memory");
        return NGX_ERROR;
    }

    s = &mr->ring[mr->next % mr->ring_size];

    input.data = (u_char *) text;
    input.len = ngx_strlen(text);

    name.data = buf;
    name.len = ngx_snprintf(buf, sizeof(buf) - 1, "%V-%uL", &mr->uuid,
                            mr->next)
               - buf;

    s->mr = mr;
    s->used = 1;
    s->ended = 0;
    s->index = mr->next;
    s->start_ms = ngx_http_sfn_now_ms();

    if ((mr->writer || mr->shaped)
        && ngx_http_sfn_maprun_dup(&s->input, &input) != NGX_OK)
    {
        free(text);
        cJSON_Delete(in);
        ngx_http_sfn_maprun_fail(mr, "States.Runtime", "out of memory");
        return NGX_ERROR;
    }

    mr->running++;
    mr->next++;
    mr->total++;

    if (f) {
        free(text);
        cJSON_Delete(in);
        return ngx_http_sfn_maprun_adopt(mr, s, f);
    }

    rc = ngx_http_sfn_exec_start_child(mr->smcf, mr->child, &name, &input,
                                       &mr->arn,
                                       ngx_http_sfn_maprun_child_done, s,
                                       mr->exec, mr->scratch);
    free(text);

    if (rc == NGX_BUSY) {
        /* PostgreSQL's queue is past its mark: this item again, later */
        mr->running--;
        mr->next--;
        mr->total--;
        ngx_http_sfn_maprun_slot_clear(s);
        mr->retry = in;
        return NGX_BUSY;
    }

    cJSON_Delete(in);

    if (rc != NGX_OK) {
        mr->running--;
        s->ended = 1;
        s->status = SFN_FAILED;
        mr->failed++;
        ngx_http_sfn_maprun_fail(mr, "States.Runtime",
                                 "the child execution \"%V\" could not be "
                                 "started", &name);
        return NGX_ERROR;
    }

    ngx_reset_pool(mr->scratch);

    return NGX_OK;
}


/* stops the children still running, once: they end as ABORTED */

static void
ngx_http_sfn_maprun_abort_children(ngx_http_sfn_maprun_t *mr)
{
    u_char                  buf[NGX_HTTP_SFN_NAME_LEN + 1];
    uint64_t                i;
    ngx_str_t               name, arn, err;
    ngx_http_sfn_run_t     *run;
    ngx_http_sfn_mr_slot_t *s;

    if (mr->aborting) {
        return;
    }

    mr->aborting = 1;

    ngx_str_set(&err, "States.Aborted");

    for (i = mr->base; i < mr->next; i++) {
        s = &mr->ring[i % mr->ring_size];

        if (!s->used || s->ended
            || (mr->child->type == SFN_STANDARD && mr->leaving))
        {
            /* a durable child outlives a worker that goes */
            continue;
        }

        name.data = buf;
        name.len = ngx_snprintf(buf, sizeof(buf) - 1, "%V-%uL", &mr->uuid,
                                i)
                   - buf;

        if (ngx_http_sfn_exec_arn(mr->smcf, mr->child->type, &mr->child->name,
                                  &name, mr->scratch, &arn)
            == NULL)
        {
            continue;
        }

        run = ngx_http_sfn_run_find(&arn);

        if (run) {
            (void) sfn_exec_stop(run->exec, "States.Aborted",
                                 "the map run ended");
            ngx_http_sfn_run_after(run);

        } else if (mr->child->type == SFN_STANDARD) {
            (void) ngx_http_sfn_exec_stop(mr->smcf, &arn, &err, NULL,
                                          mr->scratch);
        }
    }

    ngx_reset_pool(mr->scratch);
}


/* everything has ended: the answer to the parent */

static void
ngx_http_sfn_maprun_finish(ngx_http_sfn_maprun_t *mr)
{
    char        *text;
    ngx_str_t    out;
    sfn_exec_t  *e;

    mr->done = 1;

    if (!mr->error && !ngx_http_sfn_maprun_tolerated(mr, 1)) {
        ngx_http_sfn_maprun_fail(mr,
                                 "States.ExceedToleratedFailureThreshold",
                                 "The specified tolerated failure threshold "
                                 "was exceeded");
    }

    text = NULL;
    ngx_str_null(&out);

    if (!mr->error) {
        if (mr->writer) {
            if (ngx_http_sfn_maprun_manifest(mr, &text) != NGX_OK) {
                ngx_http_sfn_maprun_fail(mr, "States.ResultWriterFailed",
                                         "the manifest could not be "
                                         "written");
            }

        } else if (mr->out_over) {
            ngx_http_sfn_maprun_fail(mr, "States.DataLimitExceeded",
                                     "The state/task returned a result "
                                     "with a size exceeding the maximum "
                                     "number of bytes service limit.");

        } else {
            ngx_http_sfn_maprun_out(mr, (u_char *) "", 0);
            if (mr->out_over) {
                ngx_http_sfn_maprun_fail(mr, "States.DataLimitExceeded",
                                         "The state/task returned a result "
                                         "with a size exceeding the maximum "
                                         "number of bytes service limit.");
            } else {
                /* "[a,b," + "": the last separator is the closing bracket */
                if (mr->out.len == 1) {
                    mr->out.data[1] = ']';
                    mr->out.len = 2;
                } else {
                    mr->out.data[mr->out.len - 1] = ']';
                }
                out = mr->out;
            }
        }

    } else if (mr->writer) {
        /* what was written is kept, with its manifest, as AWS does */
        (void) ngx_http_sfn_maprun_manifest(mr, NULL);
    }

    mr->status = mr->error ? (mr->aborted_by_parent ? SFN_ABORTED
                                                    : SFN_FAILED)
                           : SFN_SUCCEEDED;
    mr->stop_ms = ngx_http_sfn_now_ms();

    ngx_http_sfn_maprun_flush_row(mr, 1);

    if (mr->aborted_by_parent) {
        ngx_http_sfn_maprun_free(mr);
        return;
    }

    e = mr->exec;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "sfn map run \"%V\" ended: %ui succeeded, %ui failed",
                   &mr->arn, mr->succeeded, mr->failed);

    if (mr->error) {
        (void) sfn_exec_map_run_failed(e, mr->id, mr->error,
                                       (char *) mr->cause);

    } else if (text) {
        (void) sfn_exec_map_run_succeeded(e, mr->id, text,
                                          ngx_strlen(text));
    } else {
        (void) sfn_exec_map_run_succeeded(e, mr->id, (char *) out.data,
                                          out.len);
    }

    free(text);

    /* the answer may have ended the parent, and freed mr with it */

    if (!mr->freed_by_parent) {
        ngx_http_sfn_run_after(mr->parent);
        ngx_http_sfn_maprun_free(mr);

    } else {
        ngx_http_sfn_maprun_free(mr);
    }
}


static void
ngx_http_sfn_maprun_pump(ngx_event_t *ev)
{
    ngx_http_sfn_maprun_t *mr = ev->data;

    ngx_int_t   rc;
    ngx_uint_t  n, limit;

    if (mr->done) {
        return;
    }

    n = 0;

    if (mr->source_done == 0 && !mr->error) {
        for (n = 0; n < NGX_HTTP_SFN_MR_SLICE; n++) {
            limit = mr->max_conc > 0 ? (ngx_uint_t) mr->max_conc
                                     : mr->ring_size;

            if (mr->running >= limit
                || mr->next - mr->base >= mr->ring_size)
            {
                break;
            }

            rc = ngx_http_sfn_maprun_start_child(mr);

            if (rc == NGX_DONE) {
                mr->source_done = 1;
                break;
            }

            if (rc == NGX_BUSY) {
                ngx_add_timer(&mr->pump, NGX_HTTP_SFN_MR_BUSY);
                break;
            }

            if (rc == NGX_AGAIN) {
                if (mr->yield) {
                    /* the reader read its share of this turn: the next */
                    mr->yield = 0;
                    n = NGX_HTTP_SFN_MR_SLICE;
                }

                /* else the window of recorded children: posted when read */
                break;
            }

            if (rc != NGX_OK || mr->error) {
                break;
            }
        }
    }

    ngx_http_sfn_maprun_advance(mr);

    if (mr->error) {
        ngx_http_sfn_maprun_abort_children(mr);
    }

    if ((mr->source_done || mr->error) && mr->running == 0) {
        if (mr->pump.timer_set) {
            ngx_del_timer(&mr->pump);
        }

        if (ngx_http_sfn_run_paced(mr->parent)) {
            /* the parent's last step is being recorded: the answer after */
            ngx_add_timer(&mr->pump, 1);
            return;
        }

        ngx_http_sfn_maprun_finish(mr);
        return;
    }

    if (!mr->error && !mr->source_done && !mr->pump.timer_set
        && !mr->pump.posted && n == NGX_HTTP_SFN_MR_SLICE)
    {
        /*
         * more to start now: after the next poll for events, so that a
         * map run of any size leaves the worker to its connections
         */
        ngx_post_event(&mr->pump, &ngx_posted_next_events);
    }
}


/* the row: counts every second and at the end; limits read back */

static void
ngx_http_sfn_maprun_flushed(void *data, void *res)
{
    ngx_http_sfn_maprun_t *mr = data;

    PGresult  *r = res;
    ngx_int_t  n;

    mr->queries--;

    if (r && PQntuples(r) == 1 && !mr->done) {
        n = ngx_atoi((u_char *) PQgetvalue(r, 0, 0),
                     PQgetlength(r, 0, 0));
        if (n != NGX_ERROR && n != mr->max_conc) {
            mr->max_conc = n;
            ngx_http_sfn_maprun_post(mr);
        }

        mr->tol_count = ngx_atoof((u_char *) PQgetvalue(r, 0, 1),
                                  PQgetlength(r, 0, 1));
        mr->tol_pct = strtod(PQgetvalue(r, 0, 2), NULL);
        if (PQgetvalue(r, 0, 1)[0] == '-') {
            mr->tol_count = -1;
        }
    }

    if (mr->closed && mr->queries == 0) {
        ngx_http_sfn_maprun_free(mr);
    }
}


/* what a new owner goes on from: see sql/016_map_runs.sql */

static char *
ngx_http_sfn_maprun_progress(ngx_http_sfn_maprun_t *mr)
{
    char   *text;
    cJSON  *o;

    if (ngx_http_sfn_maprun_files_flush(mr) != NGX_OK) {
        return NULL;
    }

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    cJSON_AddNumberToObject(o, "base", (double) mr->base);
    cJSON_AddNumberToObject(o, "succeeded", (double) mr->c_succeeded);
    cJSON_AddNumberToObject(o, "failed", (double) mr->c_failed);
    cJSON_AddNumberToObject(o, "timedOut", (double) mr->c_timed_out);
    cJSON_AddNumberToObject(o, "aborted", (double) mr->c_aborted);
    cJSON_AddNumberToObject(o, "written", (double) mr->written);

    if (mr->writer) {
        cJSON_AddItemToObject(o, "files",
                              ngx_http_sfn_maprun_files_json(mr));

    } else if (mr->out.len) {
        ngx_http_sfn_json_add_str(o, "out", &mr->out);
        if (mr->out_over) {
            cJSON_AddBoolToObject(o, "over", 1);
        }
    }

    text = sfn_json_print(o);
    cJSON_Delete(o);

    return text;
}


static void
ngx_http_sfn_maprun_flush_row(ngx_http_sfn_maprun_t *mr, ngx_uint_t final)
{
    u_char      *p;
    char        *progress;
    const char  *values[5];
    u_char       counts[512], stop[NGX_INT64_LEN + 2];

    if (mr->smcf->database.len == 0 || !mr->row) {
        return;
    }

    progress = final ? NULL : ngx_http_sfn_maprun_progress(mr);

    p = ngx_snprintf(counts, sizeof(counts) - 1,
                     "{\"pending\":0,\"running\":%ui,\"succeeded\":%ui,"
                     "\"failed\":%ui,\"timedOut\":%ui,\"aborted\":%ui,"
                     "\"total\":%ui,\"resultsWritten\":%ui}",
                     mr->running, mr->succeeded,
                     mr->failed - mr->timed_out - mr->aborted,
                     mr->timed_out, mr->aborted, mr->total, mr->written);
    *p = '\0';

    values[0] = (char *) mr->arn.data;
    values[1] = (char *) counts;

    if (final) {
        *ngx_sprintf(stop, "%s", sfn_status_name(mr->status)) = '\0';
        values[2] = (char *) stop;

    } else {
        values[2] = NULL;
    }

    values[3] = progress;
    values[4] = (char *) ngx_http_sfn_lease_owner();

    /*
     * written by the owner of a Standard parent only, as its steps are: a
     * worker that lost it to another (its lease ran out while the
     * database was out of its reach) writes nothing over the new owner's
     */

    if (ngx_http_sfn_pg_query(
            "UPDATE sfn_map_runs r SET counts = $2::jsonb, "
            "status = coalesce($3, status), "
            "stopped_at = CASE WHEN $3 IS NULL THEN NULL ELSE now() END, "
            "progress = CASE WHEN $3 IS NULL THEN coalesce($4::jsonb, "
            "progress) END "
            "WHERE arn = $1 AND status = 'RUNNING' "
            "AND NOT EXISTS (SELECT 1 FROM sfn_executions p "
            "WHERE p.arn = r.execution_arn AND p.type = 'STANDARD' "
            "AND p.owner IS DISTINCT FROM $5) "
            "RETURNING max_concurrency, tolerated_count, tolerated_pct",
            5, values, ngx_http_sfn_maprun_flushed, mr)
        == NGX_OK)
    {
        mr->queries++;
    }

    free(progress);
}


static void
ngx_http_sfn_maprun_tick(ngx_event_t *ev)
{
    ngx_http_sfn_maprun_t *mr = ev->data;

    if (mr->done) {
        return;
    }

    ngx_http_sfn_maprun_flush_row(mr, 0);
    ngx_add_timer(&mr->tick, NGX_HTTP_SFN_MR_FLUSH);
}


static void
ngx_http_sfn_maprun_inserted(void *data, void *res)
{
    ngx_http_sfn_maprun_t *mr = data;

    mr->queries--;

    if (mr->closed && mr->queries == 0) {
        ngx_http_sfn_maprun_free(mr);
    }
}


static ngx_int_t
ngx_http_sfn_maprun_insert(ngx_http_sfn_maprun_t *mr)
{
    const char  *values[10];
    u_char       task[NGX_INT64_LEN + 1], conc[NGX_INT64_LEN + 1],
                 cnt[NGX_INT64_LEN + 1], pct[64];

    if (mr->smcf->database.len == 0) {
        return NGX_OK;
    }

    *ngx_sprintf(task, "%uL", mr->id) = '\0';
    *ngx_sprintf(conc, "%L", mr->max_conc) = '\0';
    *ngx_sprintf(cnt, "%L", mr->tol_count) = '\0';
    if (mr->tol_pct < 0) {
        ngx_sprintf(pct, "-1%Z");

    } else {
        ngx_snprintf(pct, sizeof(pct) - 1, "%.6f%Z", mr->tol_pct);
    }

    values[0] = (char *) mr->arn.data;
    values[1] = (char *) mr->parent->arn.data;
    values[2] = (char *) mr->parent->sm->arn.data;
    values[3] = (char *) task;
    values[4] = (char *) mr->label.data;
    values[5] = (char *) conc;
    values[6] = (char *) cnt;
    values[7] = (char *) pct;
    values[8] = (char *) mr->child->definition.data;
    values[9] = (mr->child->type == SFN_EXPRESS) ? "EXPRESS" : "STANDARD";

    if (ngx_http_sfn_pg_query(
            "INSERT INTO sfn_map_runs (arn, execution_arn, "
            "state_machine_arn, task, label, max_concurrency, "
            "tolerated_count, tolerated_pct, processor, child_type) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
            "ON CONFLICT (arn) DO NOTHING",
            10, values, ngx_http_sfn_maprun_inserted, mr)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    mr->queries++;
    mr->row = 1;

    return NGX_OK;
}


/*
 * A map run redriven with its parent: its row RUNNING again, its counts
 * made anew as its items are gone through from the first, its children
 * found (those that ended unsuccessful before now are redriven there)
 */

static ngx_int_t
ngx_http_sfn_maprun_redrive_row(ngx_http_sfn_maprun_t *mr)
{
    const char  *values[5];
    u_char       task[NGX_INT64_LEN + 1], conc[NGX_INT64_LEN + 1],
                 cnt[NGX_INT64_LEN + 1], pct[64];

    *ngx_sprintf(task, "%uL", mr->id) = '\0';
    *ngx_sprintf(conc, "%L", mr->max_conc) = '\0';
    *ngx_sprintf(cnt, "%L", mr->tol_count) = '\0';
    if (mr->tol_pct < 0) {
        ngx_sprintf(pct, "-1%Z");

    } else {
        ngx_snprintf(pct, sizeof(pct) - 1, "%.6f%Z", mr->tol_pct);
    }

    values[0] = (char *) mr->arn.data;
    values[1] = (char *) task;
    values[2] = (char *) conc;
    values[3] = (char *) cnt;
    values[4] = (char *) pct;

    if (ngx_http_sfn_pg_query(
            "UPDATE sfn_map_runs SET status = 'RUNNING', stopped_at = NULL, "
            "progress = NULL, counts = '{}', task = $2::bigint, "
            "max_concurrency = $3::int, tolerated_count = $4::bigint, "
            "tolerated_pct = $5::float8, "
            "redrive_count = redrive_count + 1, redrive_date = now() "
            "WHERE arn = $1 AND status IN ('FAILED', 'ABORTED')",
            5, values, ngx_http_sfn_maprun_inserted, mr)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    mr->queries++;
    mr->row = 1;
    mr->finding = 1;
    mr->found_more = 1;
    mr->find_from = 0;

    return NGX_OK;
}


/*
 * The children's state machine, "<machine>/<label>": kept by the worker
 * for the next map run of the same state, and for the children's runs,
 * which may outlive their map run by a little
 */

typedef struct {
    ngx_queue_t                  queue;
    ngx_http_sfn_machine_t       sm;
} ngx_http_sfn_maprun_machine_t;


static ngx_queue_t  ngx_http_sfn_maprun_machines;


static void
ngx_http_sfn_maprun_init(void)
{
    if (!ngx_http_sfn_maprun_inited) {
        ngx_queue_init(&ngx_http_sfn_maprun_all);
        ngx_queue_init(&ngx_http_sfn_maprun_machines);
        ngx_http_sfn_maprun_inited = 1;
    }
}


/*
 * "<machine>/<label>" with the ItemProcessor def, compiled once: for a
 * map run, and for the recovery of a child whose map run has ended
 */

ngx_http_sfn_machine_t *
ngx_http_sfn_maprun_machine(ngx_http_sfn_main_conf_t *smcf, ngx_str_t *name,
    ngx_str_t *def, sfn_type_e type, ngx_str_t *role)
{
    size_t                          n, len;
    u_char                         *p;
    sfn_diag_t                      diag;
    ngx_queue_t                    *q;
    ngx_http_sfn_maprun_machine_t  *cm;

    ngx_http_sfn_maprun_init();

    for (q = ngx_queue_head(&ngx_http_sfn_maprun_machines);
         q != ngx_queue_sentinel(&ngx_http_sfn_maprun_machines);
         q = ngx_queue_next(q))
    {
        cm = ngx_queue_data(q, ngx_http_sfn_maprun_machine_t, queue);

        if (cm->sm.type == type && cm->sm.name.len == name->len
            && ngx_strncmp(cm->sm.name.data, name->data, name->len) == 0
            && cm->sm.definition.len == def->len
            && ngx_strncmp(cm->sm.definition.data, def->data, def->len)
               == 0)
        {
            return &cm->sm;
        }
    }

    len = sizeof(ngx_http_sfn_maprun_machine_t) + name->len + 1 + def->len
          + 1 + sizeof("arn:aws:states:::stateMachine:") + smcf->region.len
          + smcf->account.len + name->len;

    cm = ngx_calloc(len, ngx_cycle->log);
    if (cm == NULL) {
        return NULL;
    }

    p = (u_char *) (cm + 1);

    cm->sm.name.data = p;
    cm->sm.name.len = name->len;
    p = ngx_cpymem(p, name->data, name->len);
    *p++ = '\0';

    cm->sm.definition.data = p;
    cm->sm.definition.len = def->len;
    p = ngx_cpymem(p, def->data, def->len);
    *p++ = '\0';

    cm->sm.arn.data = p;
    p = ngx_sprintf(p, "arn:aws:states:%V:%V:stateMachine:%V",
                    &smcf->region, &smcf->account, name);
    cm->sm.arn.len = p - cm->sm.arn.data;
    *p = '\0';

    if (role) {
        cm->sm.role = *role;
    }

    cm->sm.type = type;
    cm->sm.machine = ngx_http_sfn_machine_load(&cm->sm.definition, type,
                                               &diag, 1, &n);
    if (cm->sm.machine == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "sfn state machine \"%V\": its ItemProcessor does "
                      "not load: %s: %s", name, diag.code, diag.message);
        ngx_free(cm);
        return NULL;
    }

    ngx_queue_insert_tail(&ngx_http_sfn_maprun_machines, &cm->queue);

    return &cm->sm;
}


static ngx_http_sfn_machine_t *
ngx_http_sfn_maprun_child_machine(ngx_http_sfn_maprun_t *mr,
    const sfn_map_req_t *req)
{
    ngx_str_t                def, name;
    ngx_http_sfn_machine_t  *sm;
    u_char                   buf[512];

    sm = mr->parent->sm;

    def.data = (u_char *) req->processor;
    def.len = ngx_strlen(req->processor);

    if (sm->name.len + 1 + mr->label.len >= sizeof(buf)) {
        return NULL;
    }

    name.data = buf;
    name.len = ngx_sprintf(buf, "%V/%V", &sm->name, &mr->label) - buf;

    return ngx_http_sfn_maprun_machine(mr->smcf, &name, &def, req->type,
                                       &sm->role);
}


/*
 * Items and results set up, the row written (or found again), and the
 * first turn of the pump, never from inside map_run()
 */

static ngx_int_t
ngx_http_sfn_maprun_begin(ngx_http_sfn_maprun_t *mr, const cJSON *items,
    const cJSON *reader, const cJSON *writer, const cJSON *progress)
{
    sfn_map_req_t  req;

    ngx_memzero(&req, sizeof(sfn_map_req_t));
    req.items = items;
    req.reader = reader;

    if (ngx_http_sfn_maprun_source(mr, &req) != NGX_OK) {
        return NGX_ERROR;
    }

    if (writer && ngx_http_sfn_maprun_writer(mr, writer) != NGX_OK) {
        return NGX_ERROR;
    }

    if (progress) {
        if (ngx_http_sfn_maprun_files_resume(mr,
                cJSON_GetObjectItemCaseSensitive(progress, "files"))
            != NGX_OK)
        {
            ngx_http_sfn_maprun_fail(mr, "States.ResultWriterFailed",
                                     "the results written before the "
                                     "restart could not be reopened");
        }

    } else if (mr->redriving) {
        if (ngx_http_sfn_maprun_redrive_row(mr) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (!mr->row && ngx_http_sfn_maprun_insert(mr) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_add_timer(&mr->tick, NGX_HTTP_SFN_MR_FLUSH);
    ngx_post_event(&mr->pump, &ngx_posted_events);

    return NGX_OK;
}


static uint64_t
ngx_http_sfn_maprun_num(const cJSON *o, const char *name)
{
    double  d;

    d = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, name));

    return (d >= 0 && d < 9.0e15) ? (uint64_t) d : 0;
}


static void
ngx_http_sfn_maprun_loaded(void *data, void *res)
{
    ngx_http_sfn_maprun_t *mr = data;

    PGresult     *r = res;
    cJSON        *progress;
    const cJSON  *out;
    ngx_str_t     arn, text;

    mr->queries--;

    if (mr->closed) {
        if (mr->queries == 0) {
            ngx_http_sfn_maprun_free(mr);
        }
        return;
    }

    mr->loading = 0;
    progress = NULL;

    if (r && PQntuples(r) == 1
        && (size_t) PQgetlength(r, 0, 0) > NGX_UUID_LEN)
    {
        arn.data = (u_char *) PQgetvalue(r, 0, 0);
        arn.len = PQgetlength(r, 0, 0);

        if (ngx_http_sfn_pstr(mr->pool, &arn, &mr->arn) != NGX_OK) {
            goto failed;
        }

        mr->uuid.data = mr->arn.data + mr->arn.len - NGX_UUID_LEN;
        mr->uuid.len = NGX_UUID_LEN;
        mr->row = 1;

        /*
         * its limits as the row has them (UpdateMapRun's), not as the
         * parent's snapshot, which does not keep a distributed Map's
         */

        mr->max_conc = ngx_atoof((u_char *) PQgetvalue(r, 0, 2),
                                 PQgetlength(r, 0, 2));
        mr->tol_count = (PQgetvalue(r, 0, 3)[0] == '-')
                        ? -1 : ngx_atoof((u_char *) PQgetvalue(r, 0, 3),
                                         PQgetlength(r, 0, 3));
        mr->tol_pct = strtod(PQgetvalue(r, 0, 4), NULL);

        if (!PQgetisnull(r, 0, 1)) {
            progress = sfn_json_parse(PQgetvalue(r, 0, 1),
                                      PQgetlength(r, 0, 1));
        }
    }

    if (progress) {
        mr->skip = ngx_http_sfn_maprun_num(progress, "base");
        mr->total = mr->skip;
        mr->succeeded = mr->c_succeeded =
            ngx_http_sfn_maprun_num(progress, "succeeded");
        mr->failed = mr->c_failed =
            ngx_http_sfn_maprun_num(progress, "failed");
        mr->timed_out = mr->c_timed_out =
            ngx_http_sfn_maprun_num(progress, "timedOut");
        mr->aborted = mr->c_aborted =
            ngx_http_sfn_maprun_num(progress, "aborted");
        mr->written = ngx_http_sfn_maprun_num(progress, "written");

        out = cJSON_GetObjectItemCaseSensitive(progress, "out");
        if (cJSON_IsString(out)) {
            text.data = (u_char *) out->valuestring;
            text.len = ngx_strlen(out->valuestring);
            mr->out.data = ngx_alloc(text.len + 1, ngx_cycle->log);
            if (mr->out.data == NULL) {
                cJSON_Delete(progress);
                goto failed;
            }
            mr->out.len = ngx_cpymem(mr->out.data, text.data, text.len)
                          - mr->out.data;
            mr->out_size = text.len + 1;
        }

        mr->out_over = cJSON_IsTrue(
                           cJSON_GetObjectItemCaseSensitive(progress, "over"));

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "sfn map run \"%V\" goes on from item %uL",
                      &mr->arn, mr->skip);
    }

    if (mr->row && mr->child->type == SFN_STANDARD) {
        /* its children from there on are recorded, some of them */
        mr->finding = 1;
        mr->found_more = 1;
        mr->find_from = mr->skip;
    }

    if (ngx_http_sfn_maprun_begin(mr,
            cJSON_GetObjectItemCaseSensitive(mr->saved, "items"),
            cJSON_GetObjectItemCaseSensitive(mr->saved, "reader"),
            cJSON_GetObjectItemCaseSensitive(mr->saved, "writer"),
            progress ? progress : NULL)
        != NGX_OK)
    {
        cJSON_Delete(progress);
        goto failed;
    }

    cJSON_Delete(progress);

    return;

failed:

    ngx_http_sfn_maprun_fail(mr, "States.Runtime",
                             "the map run could not be resumed");
    mr->source_done = 1;
    ngx_add_timer(&mr->tick, NGX_HTTP_SFN_MR_FLUSH);
    ngx_post_event(&mr->pump, &ngx_posted_events);
}


static ngx_int_t
ngx_http_sfn_maprun_resume(ngx_http_sfn_maprun_t *mr,
    const sfn_map_req_t *req)
{
    const char  *values[2];
    u_char       task[NGX_INT64_LEN + 1];

    /* what map_run() lends is kept until the row answers */

    mr->saved = cJSON_CreateObject();
    if (mr->saved == NULL
        || (req->items
            && !cJSON_AddItemReferenceToObject(mr->saved, "items",
                                               (cJSON *) req->items))
        || (req->reader
            && !cJSON_AddItemToObject(mr->saved, "reader",
                                      cJSON_Duplicate(req->reader, 1)))
        || (req->writer
            && !cJSON_AddItemToObject(mr->saved, "writer",
                                      cJSON_Duplicate(req->writer, 1))))
    {
        return NGX_ERROR;
    }

    *ngx_sprintf(task, "%uL", mr->id) = '\0';

    values[0] = (char *) mr->parent->arn.data;
    values[1] = (char *) task;

    if (ngx_http_sfn_pg_query(
            "SELECT arn, progress::text, max_concurrency, "
            "tolerated_count, tolerated_pct FROM sfn_map_runs "
            "WHERE execution_arn = $1 AND task = $2::bigint "
            "AND status = 'RUNNING' ORDER BY started_at DESC LIMIT 1",
            2, values, ngx_http_sfn_maprun_loaded, mr)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    mr->queries++;
    mr->loading = 1;

    return NGX_OK;
}


/* sfn_host_t.map_run */

int
ngx_http_sfn_maprun_start(void *data, sfn_exec_t *e, const sfn_map_req_t *req,
    char *arn, size_t size)
{
    ngx_http_sfn_run_t *run = data;

    u_char                 *p;
    size_t                  len;
    ngx_pool_t             *pool;
    ngx_http_sfn_maprun_t  *mr;

    ngx_http_sfn_maprun_init();

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return SFN_ERROR;
    }

    mr = ngx_pcalloc(pool, sizeof(ngx_http_sfn_maprun_t));
    if (mr == NULL) {
        ngx_destroy_pool(pool);
        return SFN_ERROR;
    }

    mr->pool = pool;
    mr->smcf = run->smcf;
    mr->parent = run;
    mr->exec = e;
    mr->id = req->id;
    mr->max_conc = req->max_concurrency;
    mr->tol_count = req->tolerated_count;
    mr->tol_pct = req->tolerated_pct;
    mr->batching = req->batching;
    mr->batch_items = req->batch_items;
    mr->batch_bytes = req->batch_bytes;
    mr->start_ms = ngx_http_sfn_now_ms();
    mr->status = SFN_RUNNING;

    mr->scratch = ngx_create_pool(1024, ngx_cycle->log);
    if (mr->scratch == NULL) {
        goto failed;
    }

    mr->uuid.data = ngx_pnalloc(pool, NGX_UUID_LEN);
    if (mr->uuid.data == NULL) {
        goto failed;
    }
    mr->uuid.len = ngx_http_sfn_uuid(mr->uuid.data);

    len = ngx_strlen(req->label);
    mr->label.data = ngx_pnalloc(pool, len + 1);
    if (mr->label.data == NULL) {
        goto failed;
    }
    ngx_memcpy(mr->label.data, req->label, len + 1);
    mr->label.len = len;

    mr->arn.len = sizeof("arn:aws:states:::mapRun:/:") - 1
                  + run->smcf->region.len + run->smcf->account.len
                  + run->sm->name.len + mr->label.len + mr->uuid.len;
    mr->arn.data = ngx_pnalloc(pool, mr->arn.len + 1);
    if (mr->arn.data == NULL || mr->arn.len >= size) {
        goto failed;
    }

    p = ngx_sprintf(mr->arn.data, "arn:aws:states:%V:%V:mapRun:%V/%V:%V",
                    &run->smcf->region, &run->smcf->account, &run->sm->name,
                    &mr->label, &mr->uuid);
    *p = '\0';

    /*
     * the first map run of a redriven execution is the one RedriveExecution
     * found (sql/019) if it is of this state: the same ARN, redriven
     */

    if (!req->resumed && run->redrive_map_run.len == mr->arn.len
        && req->type == SFN_STANDARD
        && ngx_strncmp(run->redrive_map_run.data, mr->arn.data,
                       mr->arn.len - NGX_UUID_LEN) == 0)
    {
        p = ngx_cpymem(mr->arn.data, run->redrive_map_run.data,
                       mr->arn.len);
        *p = '\0';
        mr->uuid.data = mr->arn.data + mr->arn.len - NGX_UUID_LEN;
        mr->redriving = 1;
        ngx_str_null(&run->redrive_map_run);
    }

    ngx_memcpy(arn, mr->arn.data, mr->arn.len + 1);

    mr->child = ngx_http_sfn_maprun_child_machine(mr, req);
    if (mr->child == NULL) {
        goto failed;
    }

    mr->ring_size = NGX_HTTP_SFN_MR_RING;
    if (mr->max_conc > 0 && (size_t) mr->max_conc * 2 > mr->ring_size) {
        mr->ring_size = (size_t) mr->max_conc * 2;
    }

    mr->ring = ngx_pcalloc(pool, mr->ring_size
                                 * sizeof(ngx_http_sfn_mr_slot_t));
    if (mr->ring == NULL) {
        goto failed;
    }

    if (req->batch_input) {
        mr->batch_input = cJSON_Duplicate(req->batch_input, 1);
        if (mr->batch_input == NULL) {
            goto failed;
        }
    }

    mr->pump.handler = ngx_http_sfn_maprun_pump;
    mr->pump.data = mr;
    mr->pump.log = ngx_cycle->log;

    mr->tick.handler = ngx_http_sfn_maprun_tick;
    mr->tick.data = mr;
    mr->tick.log = ngx_cycle->log;
    mr->tick.cancelable = 1;

    mr->find.handler = ngx_http_sfn_maprun_find;
    mr->find.data = mr;
    mr->find.log = ngx_cycle->log;
    mr->find.cancelable = 1;

    if (req->resumed && run->smcf->database.len) {
        /* its parent restored: its row says where it was */

        if (ngx_http_sfn_maprun_resume(mr, req) != NGX_OK) {
            goto failed;
        }

    } else if (ngx_http_sfn_maprun_begin(mr, req->items, req->reader,
                                         req->writer, NULL)
               != NGX_OK)
    {
        goto failed;
    }

    ngx_queue_insert_tail(&ngx_http_sfn_maprun_all, &mr->queue);
    mr->linked = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "sfn map run \"%V\" of \"%V\" started", &mr->arn,
                   &run->arn);

    if (mr->redriving) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "sfn map run \"%V\" redriven", &mr->arn);

        return run->redrive_map_count > 0 ? (int) run->redrive_map_count
                                          : 1;
    }

    return SFN_OK;

failed:

    mr->closed = 1;
    ngx_http_sfn_maprun_free(mr);

    return SFN_ERROR;
}


/* the parent no longer waits (stopped, ended, freed): cancel_task(id) */

ngx_int_t
ngx_http_sfn_maprun_cancel(sfn_exec_t *e, uint64_t id)
{
    ngx_queue_t            *q;
    ngx_http_sfn_maprun_t  *mr;

    if (!ngx_http_sfn_maprun_inited) {
        return NGX_DECLINED;
    }

    for (q = ngx_queue_head(&ngx_http_sfn_maprun_all);
         q != ngx_queue_sentinel(&ngx_http_sfn_maprun_all);
         q = ngx_queue_next(q))
    {
        mr = ngx_queue_data(q, ngx_http_sfn_maprun_t, queue);

        if (mr->exec != e || mr->id != id) {
            continue;
        }

        if (mr->done) {
            /* inside its own answer: the parent ended with it */
            mr->freed_by_parent = 1;
            return NGX_OK;
        }

        if (ngx_exiting || ngx_quit || ngx_terminate || mr->parent->lost) {
            /*
             * the worker goes (or its parent went to another), its parent
             * stays RUNNING for the next owner: so do the row, which that
             * owner goes on from, and the Standard children, which it
             * takes over
             */
            mr->row = 0;
            mr->leaving = 1;
        }

        mr->aborted_by_parent = 1;
        ngx_http_sfn_maprun_fail(mr, "States.Aborted",
                                 "the execution was stopped");
        ngx_http_sfn_maprun_abort_children(mr);

        if (mr->running == 0) {
            ngx_http_sfn_maprun_finish(mr);

        } else {
            ngx_http_sfn_maprun_post(mr);
        }

        return NGX_OK;
    }

    return NGX_DECLINED;
}


static void
ngx_http_sfn_maprun_free(ngx_http_sfn_maprun_t *mr)
{
    uint64_t  i;

    if (mr->linked) {
        ngx_queue_remove(&mr->queue);
        mr->linked = 0;
    }

    if (mr->pump.posted) {
        ngx_delete_posted_event(&mr->pump);
    }

    if (mr->pump.timer_set) {
        ngx_del_timer(&mr->pump);
    }

    if (mr->tick.timer_set) {
        ngx_del_timer(&mr->tick);
    }

    if (mr->find.timer_set) {
        ngx_del_timer(&mr->find);
    }

    mr->done = 1;
    mr->closed = 1;

    ngx_http_sfn_maprun_found_close(mr);

    if (mr->queries) {
        /* its statements' handlers free it */
        return;
    }

    if (mr->ring) {
        for (i = 0; i < mr->ring_size; i++) {
            ngx_http_sfn_maprun_slot_clear(&mr->ring[i]);
        }
    }

    ngx_http_sfn_maprun_source_close(mr);
    ngx_http_sfn_maprun_writer_close(mr);

    cJSON_Delete(mr->saved);
    cJSON_Delete(mr->held);
    cJSON_Delete(mr->partial);
    cJSON_Delete(mr->retry);
    cJSON_Delete(mr->batch_input);
    ngx_free(mr->out.data);

    if (mr->scratch) {
        ngx_destroy_pool(mr->scratch);
    }

    ngx_destroy_pool(mr->pool);
}
