
/*
 * Copyright (C) ngx_sfn authors
 *
 * What the map run's files share: the map run (ngx_http_sfn_maprun.c),
 * its items read from a bucket (ngx_http_sfn_maprun_io.c) and its results
 * written to one (ngx_http_sfn_maprun_write.c).
 */


#ifndef _NGX_HTTP_SFN_MAPRUN_H_INCLUDED_
#define _NGX_HTTP_SFN_MAPRUN_H_INCLUDED_


#include "ngx_http_sfn_exec.h"

#include <libpq-fe.h>


#define NGX_HTTP_SFN_MR_CHUNK  65536   /* read and written at a time */


typedef struct ngx_http_sfn_maprun_s  ngx_http_sfn_maprun_t;


/* an item between its child's start and its result's writing */
typedef struct {
    ngx_http_sfn_maprun_t       *mr;
    uint64_t                     index;
    int64_t                      start_ms;
    int64_t                      stop_ms;
    ngx_str_t                    input;     /* with a ResultWriter */
    ngx_str_t                    output;
    ngx_str_t                    error;
    ngx_str_t                    cause;
    sfn_status_e                 status;
    unsigned                     used:1;
    unsigned                     ended:1;
} ngx_http_sfn_mr_slot_t;


typedef enum {
    NGX_HTTP_SFN_MR_ARRAY = 0,  /* the state's input */
    NGX_HTTP_SFN_MR_JSON,
    NGX_HTTP_SFN_MR_JSONL,
    NGX_HTTP_SFN_MR_CSV,
    NGX_HTTP_SFN_MR_LIST,
    NGX_HTTP_SFN_MR_FILES       /* a list of objects, each read whole */
} ngx_http_sfn_mr_source_e;


/* WriterConfig's Transformation */
typedef enum {
    NGX_HTTP_SFN_MR_NONE = 0,
    NGX_HTTP_SFN_MR_COMPACT,
    NGX_HTTP_SFN_MR_FLATTEN
} ngx_http_sfn_mr_transform_e;


/* a results file being written: SUCCEEDED_n.json or FAILED_n.json */
typedef struct {
    ngx_fd_t                     fd;
    u_char                      *buf;       /* written when full */
    size_t                       len;
    ngx_uint_t                   n;         /* its number */
    off_t                        size;
    ngx_uint_t                   entries;
    ngx_array_t                  done;      /* ngx_http_sfn_mr_file_t */
    const char                  *kind;
    unsigned                     jsonl:1;   /* JSON Lines, not an array */
} ngx_http_sfn_mr_out_t;


typedef struct {
    ngx_str_t                    key;
    off_t                        size;
} ngx_http_sfn_mr_file_t;


/* a Standard child that a resumed map run finds recorded, by item */
typedef struct {
    uint64_t                     index;
    int64_t                      start_ms;
    int64_t                      stop_ms;
    ngx_str_t                    arn;
    ngx_str_t                    output;
    ngx_str_t                    error;
    ngx_str_t                    cause;
    sfn_status_e                 status;
    unsigned                     ended:1;
} ngx_http_sfn_mr_found_t;


struct ngx_http_sfn_maprun_s {
    ngx_queue_t                  queue;
    ngx_pool_t                  *pool;
    ngx_pool_t                  *scratch;
    ngx_http_sfn_main_conf_t    *smcf;
    ngx_http_sfn_run_t          *parent;
    sfn_exec_t                  *exec;
    uint64_t                     id;
    ngx_str_t                    arn;
    ngx_str_t                    uuid;
    ngx_str_t                    label;
    ngx_http_sfn_machine_t      *child;
    ngx_event_t                  pump;
    ngx_event_t                  tick;
    ngx_uint_t                   queries;   /* in flight */

    int64_t                      start_ms;
    int64_t                      stop_ms;
    sfn_status_e                 status;
    int64_t                      max_conc;
    int64_t                      tol_count;
    double                       tol_pct;

    /* the children, by item: [base, next) in the ring */
    ngx_http_sfn_mr_slot_t      *ring;
    size_t                       ring_size;
    uint64_t                     base;
    uint64_t                     next;
    ngx_uint_t                   running;
    ngx_uint_t                   succeeded;
    ngx_uint_t                   failed;    /* timed out and aborted too */
    ngx_uint_t                   timed_out;
    ngx_uint_t                   aborted;
    ngx_uint_t                   total;
    ngx_uint_t                   written;
    cJSON                       *retry;     /* an input not yet started */

    /* the counts of the items before base: the durable progress */
    ngx_uint_t                   c_succeeded;
    ngx_uint_t                   c_failed;
    ngx_uint_t                   c_timed_out;
    ngx_uint_t                   c_aborted;
    uint64_t                     skip;      /* items done before a restart */
    cJSON                       *saved;     /* a resumed one's reader,
                                               writer, until its row */

    /* a resumed one's Standard children, a window at a time */
    ngx_http_sfn_mr_found_t     *found;
    ngx_uint_t                   found_n;
    ngx_uint_t                   found_pos;
    uint64_t                     find_from; /* the next window's first */
    ngx_event_t                  find;      /* the window asked again */

    /* ItemBatcher */
    int64_t                      batch_items;
    int64_t                      batch_bytes;
    cJSON                       *batch_input;
    cJSON                       *held;      /* the next batch's first */
    size_t                       held_size;
    cJSON                       *partial;   /* a batch the reader left
                                               for the next turn */
    size_t                       partial_size;

    /* the items */
    ngx_http_sfn_mr_source_e     source;
    const cJSON                 *item;      /* of the state's input */
    int64_t                      max_items; /* 0: all */
    ngx_uint_t                   read;
    ngx_fd_t                     fd;
    u_char                      *buf;
    size_t                       buf_size;
    size_t                       pos;
    size_t                       last;
    ngx_uint_t                   line;
    cJSON                       *headers;   /* CSV */
    u_char                       delimiter;
    ngx_array_t                 *keys;      /* a listing: ngx_str_t */
    ngx_uint_t                   key_next;
    ngx_str_t                    bucket;    /* the reader's */
    ngx_str_t                    bucket_path;
    ngx_http_sfn_mr_source_e     format;    /* of each file: JSON, JSONL,
                                               CSV */
    ngx_str_t                    file;      /* the key being read */
    void                        *z;         /* its decompressor */
    u_char                      *zin;       /* what it decompresses */
    size_t                       zin_pos;
    size_t                       zin_last;
    uint64_t                     inflated;
    ngx_uint_t                   compressed;
    ngx_uint_t                   fills;     /* reads for this item */
    cJSON                       *pointer;   /* ItemsPointer's tokens */
    char                        *pointer_text;
    size_t                       scanned;   /* what it last scanned */

    /* the results: the output array, or ResultWriter's files */
    ngx_str_t                    out;
    size_t                       out_size;
    ngx_str_t                    wbucket;
    ngx_str_t                    wdir;      /* <path>/<prefix>/<uuid> */
    ngx_str_t                    wkey;      /* <prefix>/<uuid> */
    ngx_http_sfn_mr_out_t        files[2];  /* SUCCEEDED, FAILED */
    ngx_http_sfn_mr_transform_e  transform;

    const char                  *error;
    u_char                       error_buf[128];
    u_char                       cause[512];

    unsigned                     batching:1;
    unsigned                     writer:1;  /* ResultWriter's files */
    unsigned                     shaped:1;  /* WriterConfig alone: the
                                               output transformed */
    unsigned                     source_done:1;
    unsigned                     eof:1;
    unsigned                     started:1; /* a JSON array's "[" read */
    unsigned                     zeof:1;
    unsigned                     yield:1;   /* the reader: NGX_AGAIN */
    unsigned                     pointing:1; /* ItemsPointer: its array
                                                not found yet */
    unsigned                     zdone:1;
    unsigned                     header_row:1; /* FIRST_ROW: the first
                                                  record of each file */
    unsigned                     out_over:1;
    unsigned                     aborting:1;
    unsigned                     aborted_by_parent:1;
    unsigned                     freed_by_parent:1;
    unsigned                     done:1;
    unsigned                     closed:1;
    unsigned                     linked:1;
    unsigned                     row:1;
    unsigned                     loading:1; /* its row, to resume */
    unsigned                     leaving:1; /* the worker exits */
    unsigned                     finding:1; /* its children, recorded */
    unsigned                     redriving:1;   /* with its parent */
    unsigned                     found_more:1;
    unsigned                     find_wait:1;
};


/* ngx_http_sfn_maprun.c */
int ngx_http_sfn_maprun_start(void *data, sfn_exec_t *e,
    const sfn_map_req_t *req, char *arn, size_t size);
ngx_int_t ngx_http_sfn_maprun_cancel(sfn_exec_t *e, uint64_t id);
void ngx_http_sfn_maprun_fail(ngx_http_sfn_maprun_t *mr, const char *error,
    const char *fmt, ...);
ngx_http_sfn_machine_t *ngx_http_sfn_maprun_machine(
    ngx_http_sfn_main_conf_t *smcf, ngx_str_t *name, ngx_str_t *def,
    sfn_type_e type, ngx_str_t *role);

/* ngx_http_sfn_maprun_io.c */
ngx_int_t ngx_http_sfn_maprun_source(ngx_http_sfn_maprun_t *mr,
    const sfn_map_req_t *req);
ngx_int_t ngx_http_sfn_maprun_item(ngx_http_sfn_maprun_t *mr,
    cJSON **item);
void ngx_http_sfn_maprun_source_close(ngx_http_sfn_maprun_t *mr);

/* ngx_http_sfn_maprun_write.c */
ngx_int_t ngx_http_sfn_maprun_writer(ngx_http_sfn_maprun_t *mr,
    const cJSON *writer);
ngx_int_t ngx_http_sfn_maprun_write(ngx_http_sfn_maprun_t *mr,
    ngx_http_sfn_mr_slot_t *s);
char *ngx_http_sfn_maprun_record(ngx_http_sfn_maprun_t *mr,
    ngx_http_sfn_mr_slot_t *s);
cJSON *ngx_http_sfn_maprun_flatten(ngx_str_t *output);
ngx_int_t ngx_http_sfn_maprun_manifest(ngx_http_sfn_maprun_t *mr,
    char **details);
ngx_int_t ngx_http_sfn_maprun_files_flush(ngx_http_sfn_maprun_t *mr);
cJSON *ngx_http_sfn_maprun_files_json(ngx_http_sfn_maprun_t *mr);
ngx_int_t ngx_http_sfn_maprun_files_resume(ngx_http_sfn_maprun_t *mr,
    const cJSON *files);
void ngx_http_sfn_maprun_writer_close(ngx_http_sfn_maprun_t *mr);


#endif /* _NGX_HTTP_SFN_MAPRUN_H_INCLUDED_ */
