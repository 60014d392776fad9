
/*
 * Copyright (C) ngx_sfn authors
 *
 * A transcoding job while it runs, shared by sfn_media_transcode.c (the
 * decode loop and the tasks), sfn_media_encode.c (encoders) and
 * sfn_media_output.c (muxers and results).  Private to the media tasks.
 */

#ifndef _SFN_MEDIA_JOB_H_INCLUDED_
#define _SFN_MEDIA_JOB_H_INCLUDED_


#include <pthread.h>

#include <libavutil/audio_fifo.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

#include "sfn_media.h"


#define SFN_MEDIA_QUEUE        8


typedef struct sfn_media_job_s  sfn_media_job_t;
typedef struct sfn_media_preview_s  sfn_media_preview_t;
typedef struct sfn_media_seg_s  sfn_media_seg_t;


typedef struct {
    sfn_media_vspec_t     spec;
    int                   ow;
    int                   oh;
    AVCodecContext       *enc;
    sfn_media_filter_t    filter;
    int                   direct;       /* the source's size and format */
    int64_t               next_key;     /* enc time base */
    int64_t               key_step;
    int64_t               last_pts;
    int64_t               next_cut;     /* the next segment boundary */
    int64_t               bytes;
    int64_t               frames;
    char                  codecs[32];   /* "avc1.64001f" */

    /* QC inside the encode: the encoder's own figures, black frames */
    sfn_media_enc_stats_t stats;
    int                   analyse;      /* the job's black frame counter */
    int64_t               black;

    /* the encoding thread and its queue of decoded frames */
    pthread_t             tid;
    int                   running;
    pthread_mutex_t       mutex;
    pthread_cond_t        cond;
    AVFrame              *queue[SFN_MEDIA_QUEUE];
    int                   head;
    int                   count;
    int                   eof;
    int                   err;
    sfn_media_job_t      *job;
} sfn_media_rend_t;


typedef struct {
    sfn_media_aspec_t     spec;
    AVCodecContext       *enc;
    SwrContext           *swr;
    AVAudioFifo          *fifo;
    AVFrame              *frame;
    int64_t               next_pts;
    int                   started;
    double                seconds;      /* encoded */
    double                silent;       /* of which under -60 dBFS */
} sfn_media_aenc_t;


typedef struct {
    sfn_media_output_t    def;
    char                  key[1024];    /* final key of the main file */
    AVFormatContext      *mux;
    int                   vst;
    int                   ast;
    pthread_mutex_t       mutex;
    double                end;          /* seconds */
    double                duration;

    /* HLS: the segmenter, and when its first segment was closed */
    sfn_media_seg_t      *seg;
    double                first_at;     /* seconds from the task's start */
} sfn_media_out_t;


typedef struct {
    sfn_media_capture_t   def;          /* width, height: as encoded */
    int                   count;
    double                next;
    sfn_media_filter_t    filter;
    AVCodecContext       *enc;
    cJSON                *files;

    /* trick play: the sheet the captures are tiled into, and a poster */
    AVFrame              *sheet;
    struct SwsContext    *tiler;
    int                   tiles;
    AVPacket             *poster;
    cJSON                *extra;        /* sprite, vtt, poster results */
    int                   poster_black;
    double                poster_time;
} sfn_media_thumbs_t;


struct sfn_media_job_s {
    sfn_task_call_t      *call;
    sfn_media_input_t     in;
    sfn_media_settings_t  set;

    sfn_media_rend_t      rends[SFN_MEDIA_MAX_RENDS];
    int                   nrends;
    sfn_media_aenc_t      aencs[SFN_MEDIA_MAX_AUDIO];
    int                   naencs;
    sfn_media_out_t       outs[SFN_MEDIA_MAX_OUTS];
    int                   nouts;
    sfn_media_thumbs_t    thumbs[SFN_MEDIA_MAX_THUMBS];
    int                   nthumbs;

    /* the temporary directory of each of set.buckets, "" if none */
    char                  tmp[SFN_MEDIA_MAX_BUCKETS][SFN_MEDIA_PATH_MAX];

    int64_t               vstart;       /* video start, stream time base */
    double                last_t;
    int64_t               frames;       /* video frames decoded */
    int64_t               aframes;      /* audio frames decoded */
    double                begun;        /* the task's start */
    double                started;      /* the encode's */
    double                reported;

    /* the progressive publish, NULL unless "Preview" */
    sfn_media_preview_t  *preview;

    /* the first failure of an encoding thread */
    pthread_mutex_t       err_mutex;
    char                  err[1024];
};


/* the first failure of a thread: "what: FFmpeg's reason" */
void sfn_media_job_error(sfn_media_job_t *job, const char *what, int err);

/* encoders (sfn_media_encode.c) */
int sfn_media_rend_open(sfn_media_job_t *job, sfn_media_rend_t *r);
int sfn_media_rend_start(sfn_media_rend_t *r);
int sfn_media_rend_push(sfn_media_rend_t *r, AVFrame *frame);
void sfn_media_rend_stop(sfn_media_rend_t *r, int drop);
int sfn_media_aenc_open(sfn_media_job_t *job, sfn_media_aenc_t *a);
int sfn_media_aenc_frame(sfn_media_job_t *job, sfn_media_aenc_t *a,
    AVFrame *in);
int sfn_media_thumbs_open(sfn_media_job_t *job, sfn_media_thumbs_t *th);
int sfn_media_thumbs_frame(sfn_media_job_t *job, sfn_media_thumbs_t *th,
    AVFrame *frame, double t);
int sfn_media_thumbs_finish(sfn_media_job_t *job, sfn_media_thumbs_t *th);
void sfn_media_thumbs_free(sfn_media_thumbs_t *th);

/* the QC figures of an output, measured while it was encoded */
void sfn_media_quality(sfn_media_job_t *job, const sfn_media_out_t *out,
    cJSON *o);
void sfn_media_thumbs_result(const sfn_media_thumbs_t *th, cJSON *o);

/* outputs (sfn_media_output.c) */
int sfn_media_out_open(sfn_media_job_t *job, sfn_media_out_t *out);
int sfn_media_drain(sfn_media_job_t *job, AVCodecContext *enc, int video,
    int index, int64_t *bytes);
int sfn_media_master(sfn_media_job_t *job, sfn_media_group_t *g,
    cJSON *list);
int sfn_media_commit_dir(sfn_media_job_t *job, const char *tmp,
    const char *root, const char *rel);
cJSON *sfn_media_result(sfn_media_job_t *job, const cJSON *settings,
    const char *job_id, double elapsed);


/*
 * The HLS segmenter (sfn_media_segment.c): open readies an HLS output's
 * inner muxer (created by sfn_media_out_open) for its header, with its
 * options, and returns an AVERROR; write takes a packet in its encoder's
 * time base tb and returns an AVERROR; close ends the last segment and
 * writes the VOD playlist; free may run at any time.
 * sfn_media_seg_cut is the next segment boundary of any HLS group after
 * pts, where the encoders force an IDR frame.
 */
int sfn_media_seg_open(sfn_media_job_t *job, sfn_media_out_t *out,
    AVDictionary **opts);
int sfn_media_seg_write(sfn_media_job_t *job, sfn_media_out_t *out,
    AVPacket *pkt, AVRational tb);
int sfn_media_seg_close(sfn_media_job_t *job, sfn_media_out_t *out);
void sfn_media_seg_free(sfn_media_out_t *out);
int64_t sfn_media_seg_cut(const sfn_media_settings_t *set, int64_t pts,
    AVRational tb);


/*
 * The master playlist of an HLS group over the media playlists under dir,
 * malloc()ed; final: the job's own (durations, I-frame playlists).  NULL
 * with *why naming the playlist that could not be measured.
 */
char *sfn_media_master_text(sfn_media_job_t *job, sfn_media_group_t *g,
    const char *dir, int final, const char **why);

/*
 * The progressive publish (sfn_media_preview.c): open reads "Preview" and
 * writes the origin's preview marker, before the muxers are opened;
 * segment publishes the n files names[] (beside out's playlist) that the
 * EVENT playlist text names for the first time, then the playlist, then
 * the master once every variant has one (0, or -1 with errno); close runs
 * after the job is freed and, unless ok, withdraws what was shown.
 */
int sfn_media_preview_open(sfn_media_job_t *job);
int sfn_media_preview_segment(sfn_media_job_t *job, sfn_media_out_t *out,
    const char **names, int n, const char *text, size_t len);
void sfn_media_preview_close(sfn_media_job_t *job, int ok);


#endif /* _SFN_MEDIA_JOB_H_INCLUDED_ */
