
/*
 * Copyright (C) ngx_sfn authors
 *
 * MediaConvert job Settings, parsed into the plan sfn:media:transcode and
 * sfn:media:thumbnails carry out: the source, the output groups and their
 * destinations, the distinct video renditions and audio encodings, every
 * output file and every frame capture.  Pure logic on cJSON: no FFmpeg,
 * no files; buckets are resolved through the call's environment.
 */

#ifndef _SFN_MEDIA_SETTINGS_H_INCLUDED_
#define _SFN_MEDIA_SETTINGS_H_INCLUDED_


#include <stdint.h>
#include <cjson/cJSON.h>

#include "sfn_task.h"


#define SFN_MEDIA_PATH_MAX     4096

#define SFN_MEDIA_MAX_RENDS    16
#define SFN_MEDIA_MAX_AUDIO    8
#define SFN_MEDIA_MAX_OUTS     32
#define SFN_MEDIA_MAX_GROUPS   16
#define SFN_MEDIA_MAX_THUMBS   8
#define SFN_MEDIA_MAX_BUCKETS  8
#define SFN_MEDIA_MAX_SIZE     8192     /* pixels, either side */
#define SFN_MEDIA_MAX_BITRATE  1152000000  /* MediaConvert's bound */
#define SFN_MEDIA_KEYINT       2        /* seconds between key frames */
#define SFN_MEDIA_MAX_SPRITE   4096     /* pixels, either side */


enum {
    SFN_MEDIA_MP4 = 0,
    SFN_MEDIA_HLS_TS,
    SFN_MEDIA_HLS_FMP4
};


/* the settings that make a video rendition distinct */
typedef struct {
    int                   width;        /* 0: follow the source */
    int                   height;
    int                   crf;          /* -1: bitrate mode */
    int64_t               bitrate;
    int64_t               maxrate;
    int64_t               bufsize;
    int                   gop;          /* seconds * 1000, 0: segment */
    char                  profile[16];
    char                  level[8];
    char                  preset[16];
} sfn_media_vspec_t;


/*
 * MediaConvert's automated ABR (AutomatedEncodingSettings.AbrSettings):
 * the rungs of a group's one video output are chosen from the source.
 */
typedef struct {
    int                   max_renditions;
    int64_t               max_bitrate;
    int64_t               min_bitrate;
} sfn_media_abr_t;


typedef struct {
    int                   bitrate;
    int                   sample_rate;
    int                   channels;
} sfn_media_aspec_t;


/* one output file (MP4) or variant playlist (HLS) */
typedef struct {
    int                   type;         /* SFN_MEDIA_MP4, _HLS_TS, ... */
    int                   group;
    int                   rend;         /* index into vspecs, -1: none */
    int                   aenc;         /* index into aspecs, -1: none */
    int                   abr;          /* an automated ABR template */
    sfn_media_vspec_t     vspec;        /* as asked, when rend >= 0 */
    char                  name[256];    /* base name, no extension */
} sfn_media_output_t;


/* one FRAME_CAPTURE output: JPEG images */
typedef struct {
    int                   width;        /* 0: follow the source */
    int                   height;
    int                   quality;
    int                   max;
    double                interval;     /* seconds */
    double                offset;
    int                   spread;       /* no rate: over the duration */

    /* ImageBasedTrickPlaySettings: a sprite sheet, its WebVTT, a poster */
    int                   sprite;
    int                   tile_width;   /* one thumbnail in the sheet */
    int                   tile_height;
    int                   columns;
    int                   rows;

    int                   group;
    char                  modifier[128];
    char                  base[256];
    char                  prefix[1024]; /* key prefix, "" or ends in '/' */
    int                   bucket;       /* index into buckets */
} sfn_media_capture_t;


typedef struct {
    int                   type;         /* SFN_MEDIA_MP4, _HLS_TS, ... */
    int                   thumbs;       /* FRAME_CAPTURE group */
    const char           *gtype;        /* as MediaConvert names it */
    char                  name[128];
    int                   bucket;
    char                  bucket_name[128];
    char                  prefix[1024];
    char                  base[256];
    double                seglen;
    double                first;        /* the first segment, seconds */
    int                   abr;          /* 1: AbrSettings, 2: its output */
    sfn_media_abr_t       abr_settings;
} sfn_media_group_t;


typedef struct {
    char                  name[128];
    char                  root[SFN_MEDIA_PATH_MAX];
} sfn_media_bucket_t;


typedef struct {
    char                  src_path[SFN_MEDIA_PATH_MAX];
    char                  src_name[256];
    char                  src_base[256];

    sfn_media_group_t     groups[SFN_MEDIA_MAX_GROUPS];
    int                   ngroups;
    sfn_media_vspec_t     vspecs[SFN_MEDIA_MAX_RENDS];
    int                   nvspecs;
    sfn_media_aspec_t     aspecs[SFN_MEDIA_MAX_AUDIO];
    int                   naspecs;
    sfn_media_output_t    outputs[SFN_MEDIA_MAX_OUTS];
    int                   noutputs;
    sfn_media_capture_t   captures[SFN_MEDIA_MAX_THUMBS];
    int                   ncaptures;
    sfn_media_bucket_t    buckets[SFN_MEDIA_MAX_BUCKETS];
    int                   nbuckets;

    double                seglen;       /* shortest segment, seconds */
    double                keyint;       /* key frame interval, seconds */
} sfn_media_settings_t;


/* the source as the plan is fitted to it: displayed size (rotated) */
typedef struct {
    int                   width;
    int                   height;
    double                fps;
    double                duration;     /* seconds, 0 if unknown */
} sfn_media_source_t;


/*
 * Parses MediaConvert Settings ({"Inputs", "OutputGroups"}) into s, which
 * the caller zeroes.  On failure fills the call's error and cause and
 * returns SFN_TASK_FAILED.  settings is only read; s holds no pointer into
 * it.
 */
int sfn_media_settings_parse(sfn_task_call_t *call, const cJSON *settings,
    sfn_media_settings_t *s);

/*
 * Fits a parsed plan to its source: automated ABR groups get their rungs,
 * no rendition is larger than the source (a group drops the rungs that
 * would be upscaled, or shrinks its smallest one if none is left), every
 * video size is resolved, renditions of one size share one encode, frame
 * captures spread over the duration, and the key frame interval is set.
 * On failure fills the call's error and cause.
 */
int sfn_media_settings_fit(sfn_task_call_t *call, sfn_media_settings_t *s,
    const sfn_media_source_t *src);

/* the size a picture of sw x sh gets in a w x h box (0: follows) */
void sfn_media_fit_size(int sw, int sh, int w, int h, int *ow, int *oh);

/*
 * Our own job spec ({"input", "outputs": [{"type": "mp4" | "hls" |
 * "thumbnails", ...}]}) as MediaConvert Settings; the caller frees the
 * result.  NULL with the call failed on a bad spec.
 */
cJSON *sfn_media_settings_from_spec(sfn_task_call_t *call,
    const cJSON *spec);

/* "s3://bucket/prefix" -> bucket and the rest; 0 on success */
int sfn_media_parse_s3(const char *url, char *bucket, size_t bsize,
    char *rest, size_t rsize);

/* snprintf() that returns -1 when the result does not fit */
int sfn_media_fmt(char *buf, size_t size, const char *fmt, ...);

/* a number member, or a numeric string; dflt when absent */
double sfn_media_number(const cJSON *obj, const char *name, double dflt);

/* the key of capture number n (from 0) of c into buf; -1 if it is cut */
int sfn_media_capture_key(const sfn_media_capture_t *c, int n, char *buf,
    size_t size);

/* the key of a capture's sprite sheet ("jpg"), WebVTT ("vtt") or poster */
int sfn_media_capture_extra(const sfn_media_capture_t *c, const char *what,
    char *buf, size_t size);


#endif /* _SFN_MEDIA_SETTINGS_H_INCLUDED_ */
