
/*
 * Copyright (C) ngx_sfn authors
 *
 * A synchronous host for the fuzz targets: tasks echo their input, timers
 * fire in due order, and a step budget bounds every execution.
 */

#ifndef _SFN_FUZZ_COMMON_H_INCLUDED_
#define _SFN_FUZZ_COMMON_H_INCLUDED_


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_engine.h"


#define SFN_FZ_TIMERS  256
#define SFN_FZ_KEPT    512


typedef struct {
    int64_t               now;
    uint64_t              ids[SFN_FZ_TIMERS];
    int64_t               due[SFN_FZ_TIMERS];
    int                   task[SFN_FZ_TIMERS];
    char                 *out[SFN_FZ_TIMERS];
    int                   n;
    unsigned              rnd;
    int                   nkept;        /* lazy events kept, held */
    sfn_event_t           kept[SFN_FZ_KEPT];
    sfn_payload_t        *held[SFN_FZ_KEPT];
} sfn_fz_host_t;


static int64_t
sfn_fz_now(void *data)
{
    return ((sfn_fz_host_t *) data)->now;
}


static void
sfn_fz_random(void *data, void *buf, size_t len)
{
    size_t          i;
    sfn_fz_host_t  *h = data;

    for (i = 0; i < len; i++) {
        h->rnd = h->rnd * 1103515245 + 12345;
        ((unsigned char *) buf)[i] = (unsigned char) (h->rnd >> 16);
    }
}


static void
sfn_fz_del(sfn_fz_host_t *h, uint64_t id, int task)
{
    int  i;

    for (i = 0; i < h->n; i++) {
        if (h->ids[i] == id && h->task[i] == task) {
            free(h->out[i]);
            h->n--;
            h->ids[i] = h->ids[h->n];
            h->due[i] = h->due[h->n];
            h->task[i] = h->task[h->n];
            h->out[i] = h->out[h->n];
            i--;
        }
    }
}


static int
sfn_fz_add(sfn_fz_host_t *h, uint64_t id, int64_t due, int task, char *out)
{
    if (h->n == SFN_FZ_TIMERS) {
        free(out);
        return SFN_ERROR;
    }

    h->ids[h->n] = id;
    h->due[h->n] = due;
    h->task[h->n] = task;
    h->out[h->n] = out;
    h->n++;

    return SFN_OK;
}


static int
sfn_fz_arm(void *data, sfn_exec_t *e, uint64_t id, int64_t due)
{
    sfn_fz_del(data, id, 0);
    return sfn_fz_add(data, id, due, 0, NULL);
}


static void
sfn_fz_cancel_timer(void *data, sfn_exec_t *e, uint64_t id)
{
    sfn_fz_del(data, id, 0);
}


static void
sfn_fz_cancel_task(void *data, sfn_exec_t *e, uint64_t id)
{
    sfn_fz_del(data, id, 1);
}


static int
sfn_fz_run_task(void *data, sfn_exec_t *e, const sfn_task_req_t *t)
{
    char            *s;
    sfn_fz_host_t   *h = data;

    s = cJSON_PrintUnformatted(t->input);
    if (s == NULL) {
        return SFN_ERROR;
    }

    /* alternate between answering at once and answering later */
    if (t->id % 3 == 0) {
        sfn_exec_task_succeeded(e, t->id, s, strlen(s));
        free(s);
        return SFN_OK;
    }

    if (t->id % 3 == 1) {
        free(s);
        return t->attempt < 2 ? SFN_ERROR : SFN_OK;
    }

    return sfn_fz_add(h, t->id, h->now + 1000, 1, s);
}


static void
sfn_fz_event(void *data, sfn_exec_t *e, const sfn_event_t *ev)
{
    char           *s;
    sfn_fz_host_t  *h;

    h = data;

    if (ev->details) {
        s = cJSON_PrintUnformatted(ev->details);
        free(s);
        return;
    }

    /* a lazy event: kept past the execution, its payload held */
    if (h->nkept < SFN_FZ_KEPT) {
        h->kept[h->nkept] = *ev;
        h->held[h->nkept] = sfn_event_hold(ev);
        h->kept[h->nkept].payload = h->held[h->nkept]
                                    ? sfn_payload_json(h->held[h->nkept])
                                    : NULL;
        h->kept[h->nkept].role_arn = NULL;
        h->nkept++;
    }
}


/* the kept events, formatted once the execution is gone, then released */
static void
sfn_fz_kept_free(sfn_fz_host_t *h)
{
    int     i;
    char   *s;
    cJSON  *d;

    for (i = 0; i < h->nkept; i++) {
        d = sfn_event_details(&h->kept[i]);
        s = d ? sfn_json_print(d) : NULL;
        free(s);
        cJSON_Delete(d);
        sfn_payload_release(h->held[i]);
    }

    h->nkept = 0;
}


static void
sfn_fz_host(sfn_fz_host_t *fh, sfn_host_t *host, int events)
{
    memset(fh, 0, sizeof(sfn_fz_host_t));
    fh->now = 1700000000000LL;
    fh->rnd = 7;

    memset(host, 0, sizeof(sfn_host_t));
    host->data = fh;
    host->now_ms = sfn_fz_now;
    host->random = sfn_fz_random;
    host->run_task = sfn_fz_run_task;
    host->cancel_task = sfn_fz_cancel_task;
    host->arm_timer = sfn_fz_arm;
    host->cancel_timer = sfn_fz_cancel_timer;
    host->event = events ? sfn_fz_event : NULL;
}


/*
 * Runs an execution of m with input for at most budget host events;
 * events: 0 none, 1 eager history, 2 lazy history kept past the end.
 */
static void
sfn_fz_execute(const sfn_machine_t *m, const char *input, size_t len,
    int budget, int events, const sfn_mock_case_t *mock)
{
    int               i, k;
    char             *out, *snap;
    uint64_t          id;
    sfn_host_t        host;
    sfn_exec_t       *e, *r;
    const char       *error, *cause;
    sfn_fz_host_t     fh;
    sfn_exec_conf_t   conf;

    sfn_fz_host(&fh, &host, events);

    memset(&conf, 0, sizeof(conf));
    conf.name = "fuzz";
    conf.lazy_events = events == 2;
    conf.mock = mock;

    e = sfn_exec_create(m, &host, &conf, input, len, &error, &cause);
    if (e == NULL) {
        return;
    }

    sfn_exec_start(e);

    for (i = 0; i < budget && sfn_exec_status(e) == SFN_RUNNING && fh.n; i++)
    {
        if (i == budget / 2) {
            /* a snapshot taken mid-way must restore and free cleanly */
            snap = sfn_exec_snapshot(e);
            if (snap) {
                r = sfn_exec_restore(m, &host, mock, snap, strlen(snap));
                sfn_exec_free(r);
                free(snap);
            }

            /*
             * the restored copy shares the host: freeing it cancelled the
             * ids it had re-armed, which are e's ids too
             */

            if (fh.n == 0) {
                break;
            }
        }

        k = 0;
        for (int j = 1; j < fh.n; j++) {
            if (fh.due[j] < fh.due[k]) {
                k = j;
            }
        }

        id = fh.ids[k];
        out = fh.out[k];
        if (fh.due[k] > fh.now) {
            fh.now = fh.due[k];
        }

        fh.n--;
        fh.ids[k] = fh.ids[fh.n];
        fh.due[k] = fh.due[fh.n];
        fh.out[k] = fh.out[fh.n];
        int task = fh.task[k];
        fh.task[k] = fh.task[fh.n];

        if (task) {
            sfn_exec_task_succeeded(e, id, out, strlen(out));
            free(out);

        } else {
            sfn_exec_timer(e, id);
        }
    }

    if (sfn_exec_status(e) == SFN_RUNNING) {
        sfn_exec_stop(e, "Fuzz.Budget", NULL);
    }

    (void) sfn_exec_output(e);
    sfn_exec_free(e);
    sfn_fz_kept_free(&fh);

    for (i = 0; i < fh.n; i++) {
        free(fh.out[i]);
    }
}


#endif /* _SFN_FUZZ_COMMON_H_INCLUDED_ */
