
/*
 * Copyright (C) ngx_sfn authors
 *
 * MediaConvert Settings -> the plan of a transcoding job.  MediaConvert's
 * names are kept; what we do not implement is refused with a cause rather
 * than ignored, and every size and count is bounded before it is used.
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_media_settings.h"


static int
sfn_media_bucket(sfn_task_call_t *call, sfn_media_settings_t *set,
    const char *name)
{
    int                  i;
    const char          *root;
    sfn_media_bucket_t  *b;

    for (i = 0; i < set->nbuckets; i++) {
        if (strcmp(set->buckets[i].name, name) == 0) {
            return i;
        }
    }

    root = sfn_task_bucket_root(call, name);
    if (root == NULL) {
        return -1;
    }

    if (set->nbuckets == SFN_MEDIA_MAX_BUCKETS) {
        sfn_task_fail(call, "States.TaskFailed",
                      "too many output buckets");
        return -1;
    }

    b = &set->buckets[set->nbuckets];
    snprintf(b->name, sizeof(b->name), "%s", name);
    snprintf(b->root, sizeof(b->root), "%s", root);

    return set->nbuckets++;
}


static int
sfn_media_destination(sfn_task_call_t *call, sfn_media_settings_t *set,
    sfn_media_group_t *g, const char *dest)
{
    int    n;
    char   bucket[128], rest[1024], probe[2048];
    char  *slash;
    char   path[SFN_MEDIA_PATH_MAX];

    if (dest == NULL
        || sfn_media_parse_s3(dest, bucket, sizeof(bucket), rest,
                              sizeof(rest))
           != 0)
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "output group \"%s\": Destination \"%s\" is not "
                             "s3://bucket/prefix/", g->name,
                             dest ? dest : "");
    }

    g->bucket = sfn_media_bucket(call, set, bucket);
    if (g->bucket < 0) {
        return SFN_TASK_FAILED;
    }

    snprintf(g->bucket_name, sizeof(g->bucket_name), "%s", bucket);

    /* "prefix/" names a folder; "prefix/name" also the files' base name */

    slash = strrchr(rest, '/');

    if (rest[0] == '\0' || (slash && slash[1] == '\0')) {
        n = sfn_media_fmt(g->prefix, sizeof(g->prefix), "%s", rest);
        n |= sfn_media_fmt(g->base, sizeof(g->base), "%s", set->src_base);

    } else if (slash) {
        n = sfn_media_fmt(g->base, sizeof(g->base), "%s", slash + 1);
        slash[1] = '\0';
        n |= sfn_media_fmt(g->prefix, sizeof(g->prefix), "%s", rest);

    } else {
        n = sfn_media_fmt(g->base, sizeof(g->base), "%s", rest);
        g->prefix[0] = '\0';
    }

    if (n < 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "output group \"%s\": Destination is too long",
                             g->name);
    }

    /* the prefix stays inside its bucket as a key does */

    snprintf(probe, sizeof(probe), "%s%s", g->prefix, g->base);

    if (sfn_task_bucket_path(call, bucket, probe, path, sizeof(path))
        == NULL)
    {
        return SFN_TASK_FAILED;
    }

    return SFN_TASK_OK;
}


static const char *
sfn_media_x264_profile(const char *p)
{
    if (p == NULL) {
        return "high";
    }

    if (strcmp(p, "BASELINE") == 0) {
        return "baseline";
    }

    if (strcmp(p, "MAIN") == 0) {
        return "main";
    }

    return "high";
}


static void
sfn_media_x264_level(const char *l, char *buf, size_t size)
{
    int  major, minor;

    buf[0] = '\0';

    /* "LEVEL_4_1" -> "4.1", "AUTO" -> none */

    if (l && sscanf(l, "LEVEL_%d_%d", &major, &minor) == 2) {
        snprintf(buf, size, "%d.%d", major, minor);

    } else if (l && sscanf(l, "LEVEL_%d", &major) == 1) {
        snprintf(buf, size, "%d", major);
    }
}


static int
sfn_media_add_rend(sfn_task_call_t *call, sfn_media_settings_t *set,
    sfn_media_vspec_t *spec)
{
    int  i;

    for (i = 0; i < set->nvspecs; i++) {
        if (memcmp(&set->vspecs[i], spec, sizeof(sfn_media_vspec_t))
            == 0)
        {
            return i;
        }
    }

    if (set->nvspecs == SFN_MEDIA_MAX_RENDS) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "too many distinct video renditions");
    }

    set->vspecs[set->nvspecs] = *spec;

    return set->nvspecs++;
}


static int
sfn_media_add_aenc(sfn_task_call_t *call, sfn_media_settings_t *set,
    sfn_media_aspec_t *spec)
{
    int  i;

    for (i = 0; i < set->naspecs; i++) {
        if (memcmp(&set->aspecs[i], spec, sizeof(sfn_media_aspec_t))
            == 0)
        {
            return i;
        }
    }

    if (set->naspecs == SFN_MEDIA_MAX_AUDIO) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "too many distinct audio encodings");
    }

    set->aspecs[set->naspecs] = *spec;

    return set->naspecs++;
}


/*
 * A number member: dflt when absent or null, else a JSON number or a
 * numeric string (what States.Format gives) within [min, max]; anything
 * else fails the call naming the member.
 */

static int
sfn_media_num(sfn_task_call_t *call, const cJSON *obj, const char *where,
    const char *name, double dflt, double min, double max, double *v)
{
    char         *end;
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (item == NULL || cJSON_IsNull(item)
        || (cJSON_IsString(item) && item->valuestring[0] == '\0'))
    {
        *v = dflt;
        return SFN_TASK_OK;
    }

    if (cJSON_IsNumber(item)) {
        *v = item->valuedouble;

    } else if (cJSON_IsString(item)) {
        *v = strtod(item->valuestring, &end);

        if (*end != '\0') {
            goto invalid;
        }

    } else {
        goto invalid;
    }

    /* NaN fails both */

    if (*v >= min && *v <= max) {
        return SFN_TASK_OK;
    }

invalid:

    return sfn_task_fail(call, "States.TaskFailed",
                         "%s.%s must be a number from %.15g to %.15g",
                         where, name, min, max);
}


static int
sfn_media_bad_modifier(sfn_task_call_t *call, const char *nm)
{
    char  quoted[300];

    sfn_task_quote(quoted, sizeof(quoted), nm ? nm : "", nm ? strlen(nm) : 0);

    return sfn_task_fail(call, "States.TaskFailed",
                         "invalid NameModifier \"%s\"", quoted);
}


/*
 * Every file an output writes is a key a client could name: the main file
 * and, for HLS, the longest segment name (prefix + name + suffix).
 */

static int
sfn_media_output_keys(const sfn_media_group_t *g,
    const sfn_media_output_t *out)
{
    int           n;
    char          key[SFN_KEY_MAX + 64];
    const char  **sfx;

    static const char  *mp4[] = { ".mp4", NULL };
    static const char  *ts[] = { ".m3u8", "_00001.ts", NULL };
    static const char  *fmp4[] = { ".m3u8", "_00001.m4s", "_init.mp4", NULL };

    sfx = out->type == SFN_MEDIA_MP4 ? mp4
          : out->type == SFN_MEDIA_HLS_TS ? ts : fmp4;

    for ( /* void */ ; *sfx; sfx++) {
        n = sfn_media_fmt(key, sizeof(key), "%s%s%s", g->prefix, out->name,
                          *sfx);

        if (n < 0 || !sfn_key_valid(key, n)) {
            return SFN_TASK_FAILED;
        }
    }

    return SFN_TASK_OK;
}


static int
sfn_media_parse_video(sfn_task_call_t *call, const cJSON *vd,
    sfn_media_vspec_t *spec)
{
    char          *p, quoted[64];
    double         w, h, max, br, buf, q, crf, gop;
    const char    *mode, *s;
    const cJSON   *cs, *hs, *qs;

    memset(spec, 0, sizeof(sfn_media_vspec_t));

    cs = cJSON_GetObjectItemCaseSensitive(vd, "CodecSettings");
    hs = cJSON_GetObjectItemCaseSensitive(cs, "H264Settings");
    qs = cJSON_GetObjectItemCaseSensitive(hs, "QvbrSettings");

    if (sfn_media_num(call, vd, "VideoDescription", "Width", 0, 0,
                      SFN_MEDIA_MAX_SIZE, &w)
        != SFN_TASK_OK
        || sfn_media_num(call, vd, "VideoDescription", "Height", 0, 0,
                         SFN_MEDIA_MAX_SIZE, &h)
           != SFN_TASK_OK
        || sfn_media_num(call, hs, "H264Settings", "MaxBitrate", 0, 0,
                         SFN_MEDIA_MAX_BITRATE, &max)
           != SFN_TASK_OK
        || sfn_media_num(call, hs, "H264Settings", "Bitrate", 0, 0,
                         SFN_MEDIA_MAX_BITRATE, &br)
           != SFN_TASK_OK
        || sfn_media_num(call, hs, "H264Settings", "HrdBufferSize", 0, 0,
                         SFN_MEDIA_MAX_BITRATE, &buf)
           != SFN_TASK_OK
        || sfn_media_num(call, qs, "QvbrSettings", "QvbrQualityLevel", 7,
                         -HUGE_VAL, HUGE_VAL, &q)
           != SFN_TASK_OK
        || sfn_media_num(call, hs, "H264Settings", "Crf", -1, 0, 51, &crf)
           != SFN_TASK_OK
        || sfn_media_num(call, hs, "H264Settings", "GopSize", 0, 0, 3600,
                         &gop)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    spec->width = (int) w;
    spec->height = (int) h;
    spec->maxrate = (int64_t) max;
    spec->bitrate = (int64_t) br;
    spec->bufsize = (int64_t) buf;
    spec->crf = -1;

    mode = sfn_task_string(hs, "RateControlMode");

    if (mode == NULL || strcmp(mode, "QVBR") == 0) {

        /* QVBR 1..10 onto x264 CRF 36..18: 7 -> 24, 8 -> 22, 10 -> 18 */

        q = q < 1 ? 1 : q > 10 ? 10 : q;
        spec->crf = 38 - 2 * (int) q;
        spec->bitrate = 0;

    } else if (strcmp(mode, "CBR") == 0) {
        if (spec->bitrate <= 0) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "CBR needs H264Settings.Bitrate");
        }

        spec->maxrate = spec->bitrate;

    } else if (strcmp(mode, "VBR") == 0) {
        if (spec->bitrate <= 0) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "VBR needs H264Settings.Bitrate");
        }

    } else {
        return sfn_task_fail(call, "States.TaskFailed",
                             "unsupported RateControlMode \"%s\"", mode);
    }

    /* our own extension: an explicit CRF */

    if (crf >= 0) {
        spec->crf = (int) crf;
    }

    if (spec->maxrate > 0 && spec->bufsize <= 0) {
        spec->bufsize = 2 * spec->maxrate;
    }

    snprintf(spec->profile, sizeof(spec->profile), "%s",
             sfn_media_x264_profile(sfn_task_string(hs, "CodecProfile")));
    sfn_media_x264_level(sfn_task_string(hs, "CodecLevel"), spec->level,
                         sizeof(spec->level));

    s = sfn_task_string(hs, "QualityTuningLevel");
    snprintf(spec->preset, sizeof(spec->preset), "%s",
             s == NULL ? "veryfast"
             : strcmp(s, "SINGLE_PASS_HQ") == 0 ? "medium"
             : strcmp(s, "MULTI_PASS_HQ") == 0 ? "slow" : "veryfast");

    s = sfn_task_string(hs, "Preset");
    if (s) {
        if (strlen(s) >= sizeof(spec->preset)) {
            goto preset;
        }

        snprintf(spec->preset, sizeof(spec->preset), "%s", s);

        for (p = spec->preset; *p; p++) {
            if (*p < 'a' || *p > 'z') {
                goto preset;
            }
        }
    }

    s = sfn_task_string(hs, "GopSizeUnits");
    if (s && strcmp(s, "SECONDS") == 0) {
        spec->gop = (int) (gop * 1000);
    }

    return SFN_TASK_OK;

preset:

    sfn_task_quote(quoted, sizeof(quoted), s, strlen(s));

    return sfn_task_fail(call, "States.TaskFailed",
                         "invalid x264 preset \"%s\"", quoted);
}


static int
sfn_media_parse_audio(sfn_task_call_t *call, const cJSON *ads,
    sfn_media_aspec_t *spec)
{
    double         br, sr;
    const char    *mode, *codec;
    const cJSON   *ad, *cs, *aac;

    ad = cJSON_GetArrayItem(ads, 0);
    cs = cJSON_GetObjectItemCaseSensitive(ad, "CodecSettings");
    codec = sfn_task_string(cs, "Codec");

    if (codec && strcmp(codec, "AAC") != 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "unsupported audio codec \"%.64s\"", codec);
    }

    aac = cJSON_GetObjectItemCaseSensitive(cs, "AacSettings");

    if (sfn_media_num(call, aac, "AacSettings", "Bitrate", 128000, 8000,
                      640000, &br)
        != SFN_TASK_OK
        || sfn_media_num(call, aac, "AacSettings", "SampleRate", 48000, 8000,
                         96000, &sr)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    spec->bitrate = (int) br;
    spec->sample_rate = (int) sr;

    mode = sfn_task_string(aac, "CodingMode");
    spec->channels = mode && strcmp(mode, "CODING_MODE_1_0") == 0 ? 1 : 2;

    return SFN_TASK_OK;
}


/*
 * ImageBasedTrickPlaySettings, MediaConvert's names for trick play, given
 * in FrameCaptureSettings: TileWidth x TileHeight thumbnails of
 * ThumbnailWidth x ThumbnailHeight in one JPEG sheet, a WebVTT track that
 * points into it with #xywh= fragments, and a poster image.
 */

static int
sfn_media_parse_trickplay(sfn_task_call_t *call, sfn_media_capture_t *th,
    const cJSON *fc)
{
    double        tw, th_, cols, rows;
    const cJSON  *tp;

    tp = cJSON_GetObjectItemCaseSensitive(fc, "ImageBasedTrickPlaySettings");

    if (tp == NULL || cJSON_IsNull(tp)) {
        return SFN_TASK_OK;
    }

    if (!cJSON_IsObject(tp)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "ImageBasedTrickPlaySettings must be an "
                             "object");
    }

    if (sfn_media_num(call, tp, "ImageBasedTrickPlaySettings",
                      "ThumbnailWidth", 160, 8, 4096, &tw)
        != SFN_TASK_OK
        || sfn_media_num(call, tp, "ImageBasedTrickPlaySettings",
                         "ThumbnailHeight", 0, 0, 4096, &th_)
           != SFN_TASK_OK
        || sfn_media_num(call, tp, "ImageBasedTrickPlaySettings",
                         "TileWidth", 10, 1, 512, &cols)
           != SFN_TASK_OK
        || sfn_media_num(call, tp, "ImageBasedTrickPlaySettings",
                         "TileHeight", 0, 0, 2048, &rows)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    th->sprite = 1;
    th->tile_width = (int) tw & ~1;
    th->tile_height = (int) th_ & ~1;
    th->columns = (int) cols;
    th->rows = (int) rows;

    return SFN_TASK_OK;
}


static int
sfn_media_parse_thumbs(sfn_task_call_t *call, sfn_media_settings_t *set,
    sfn_media_group_t *g, const cJSON *o, const cJSON *vd)
{
    int                   i;
    char                  key[SFN_KEY_MAX + 64];
    double                w, h, q, max, num, den, off;
    const char           *nm;
    const cJSON          *fc;
    sfn_media_capture_t  *th;

    static const char    *extras[] = { "jpg", "vtt", "poster", NULL };

    if (set->ncaptures == SFN_MEDIA_MAX_THUMBS) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "too many frame captures");
    }

    th = &set->captures[set->ncaptures++];
    memset(th, 0, sizeof(sfn_media_capture_t));

    fc = cJSON_GetObjectItemCaseSensitive(
             cJSON_GetObjectItemCaseSensitive(vd, "CodecSettings"),
             "FrameCaptureSettings");

    if (sfn_media_num(call, vd, "VideoDescription", "Width", 0, 0,
                      SFN_MEDIA_MAX_SIZE, &w)
        != SFN_TASK_OK
        || sfn_media_num(call, vd, "VideoDescription", "Height", 0, 0,
                         SFN_MEDIA_MAX_SIZE, &h)
           != SFN_TASK_OK
        || sfn_media_num(call, fc, "FrameCaptureSettings", "Quality", 80,
                         -HUGE_VAL, HUGE_VAL, &q)
           != SFN_TASK_OK
        || sfn_media_num(call, fc, "FrameCaptureSettings", "MaxCaptures", 10,
                         1, 10000, &max)
           != SFN_TASK_OK
        || sfn_media_num(call, fc, "FrameCaptureSettings",
                         "FramerateNumerator", 1, 0, 1e9, &num)
           != SFN_TASK_OK
        || sfn_media_num(call, fc, "FrameCaptureSettings",
                         "FramerateDenominator", 10, 0, 1e12, &den)
           != SFN_TASK_OK
        || sfn_media_num(call, fc, "FrameCaptureSettings", "Offset", 0, 0,
                         1e9, &off)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    th->width = (int) w;
    th->height = (int) h;
    th->quality = q < 1 ? 1 : q > 100 ? 100 : (int) q;
    th->max = (int) max;
    th->interval = num > 0 && den > 0 ? den / num : 10;
    th->offset = off;

    /* our extension: no frame rate spreads MaxCaptures over the duration */

    th->spread = cJSON_GetObjectItemCaseSensitive(fc, "FramerateNumerator")
                 == NULL
                 && cJSON_GetObjectItemCaseSensitive(fc,
                                                     "FramerateDenominator")
                    == NULL;

    if (sfn_media_parse_trickplay(call, th, fc) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    nm = sfn_task_string(o, "NameModifier");

    if (sfn_media_fmt(th->modifier, sizeof(th->modifier), "%s",
                      nm ? nm : "")
        < 0
        || strchr(th->modifier, '/'))
    {
        return sfn_media_bad_modifier(call, nm);
    }

    th->group = (int) (g - set->groups);
    th->bucket = g->bucket;

    if (sfn_media_fmt(th->base, sizeof(th->base), "%s", g->base) < 0
        || sfn_media_fmt(th->prefix, sizeof(th->prefix), "%s", g->prefix)
           < 0)
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "output group \"%s\": Destination is too long",
                             g->name);
    }

    /* the first and the last image name are keys a client could write */

    if (sfn_media_capture_key(th, 0, key, sizeof(key)) < 0
        || !sfn_key_valid(key, strlen(key))
        || sfn_media_capture_key(th, th->max - 1, key, sizeof(key)) < 0
        || !sfn_key_valid(key, strlen(key)))
    {
        return sfn_media_bad_modifier(call, nm);
    }

    for (i = 0; th->sprite && extras[i]; i++) {
        if (sfn_media_capture_extra(th, extras[i], key, sizeof(key)) < 0
            || !sfn_key_valid(key, strlen(key)))
        {
            return sfn_media_bad_modifier(call, nm);
        }
    }

    return SFN_TASK_OK;
}


/*
 * OutputGroups[].AutomatedEncodingSettings.AbrSettings, with
 * MediaConvert's ranges and defaults; HLS and CMAF groups only.
 */

static int
sfn_media_parse_abr(sfn_task_call_t *call, sfn_media_group_t *g,
    const cJSON *og)
{
    double        maxr, maxb, minb;
    const cJSON  *abr;

    abr = cJSON_GetObjectItemCaseSensitive(
              cJSON_GetObjectItemCaseSensitive(og,
                                               "AutomatedEncodingSettings"),
              "AbrSettings");

    if (abr == NULL || cJSON_IsNull(abr)) {
        return SFN_TASK_OK;
    }

    if (g->type == SFN_MEDIA_MP4 || !cJSON_IsObject(abr)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "output group \"%s\": AbrSettings is for HLS "
                             "and CMAF groups, as an object", g->name);
    }

    if (sfn_media_num(call, abr, "AbrSettings", "MaxRenditions", 15, 1, 15,
                      &maxr)
        != SFN_TASK_OK
        || sfn_media_num(call, abr, "AbrSettings", "MaxAbrBitrate", 8000000,
                         100000, 100000000, &maxb)
           != SFN_TASK_OK
        || sfn_media_num(call, abr, "AbrSettings", "MinAbrBitrate", 600000,
                         100000, 100000000, &minb)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    if (minb > maxb) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "output group \"%s\": MinAbrBitrate is above "
                             "MaxAbrBitrate", g->name);
    }

    g->abr = 1;
    g->abr_settings.max_renditions = (int) maxr;
    g->abr_settings.max_bitrate = (int64_t) maxb;
    g->abr_settings.min_bitrate = (int64_t) minb;

    return SFN_TASK_OK;
}


int
sfn_media_settings_parse(sfn_task_call_t *call, const cJSON *settings,
    sfn_media_settings_t *set)
{
    int                  i, j, type;
    char                 bucket[128], key[1024];
    const char          *gtype, *container, *codec, *nm, *file, *p;
    const cJSON         *ogs, *og, *ogset, *gs, *outs, *o, *vd, *ads, *cs;
    sfn_media_output_t  *out;
    sfn_media_aspec_t    aspec;
    sfn_media_vspec_t    vspec;
    sfn_media_group_t   *g;

    file = sfn_task_string(cJSON_GetArrayItem(
               cJSON_GetObjectItemCaseSensitive(settings, "Inputs"), 0),
               "FileInput");

    if (file == NULL
        || sfn_media_parse_s3(file, bucket, sizeof(bucket), key,
                              sizeof(key))
           != 0)
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "Settings.Inputs[0].FileInput \"%s\" is not "
                             "s3://bucket/key", file ? file : "");
    }

    if (sfn_task_bucket_path(call, bucket, key, set->src_path,
                             sizeof(set->src_path))
        == NULL)
    {
        return SFN_TASK_FAILED;
    }

    p = strrchr(key, '/');
    sfn_media_fmt(set->src_name, sizeof(set->src_name), "%s", p ? p + 1 : key);
    snprintf(set->src_base, sizeof(set->src_base), "%s", set->src_name);

    p = strrchr(set->src_base, '.');
    if (p && p != set->src_base) {
        set->src_base[p - set->src_base] = '\0';
    }

    ogs = cJSON_GetObjectItemCaseSensitive(settings, "OutputGroups");

    if (!cJSON_IsArray(ogs) || cJSON_GetArraySize(ogs) == 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "Settings.OutputGroups is empty");
    }

    set->seglen = 0;

    for (i = 0; i < cJSON_GetArraySize(ogs); i++) {
        og = cJSON_GetArrayItem(ogs, i);

        if (set->ngroups == SFN_MEDIA_MAX_GROUPS) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "too many output groups");
        }

        g = &set->groups[set->ngroups++];
        memset(g, 0, sizeof(sfn_media_group_t));

        p = sfn_task_string(og, "Name");
        snprintf(g->name, sizeof(g->name), "%s", p ? p : "");

        ogset = cJSON_GetObjectItemCaseSensitive(og, "OutputGroupSettings");
        gtype = sfn_task_string(ogset, "Type");

        if (gtype == NULL) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "output group \"%s\" has no Type", g->name);
        }

        if (strcmp(gtype, "FILE_GROUP_SETTINGS") == 0) {
            gs = cJSON_GetObjectItemCaseSensitive(ogset, "FileGroupSettings");
            g->type = SFN_MEDIA_MP4;
            g->gtype = "FILE_GROUP_SETTINGS";

        } else if (strcmp(gtype, "HLS_GROUP_SETTINGS") == 0) {
            gs = cJSON_GetObjectItemCaseSensitive(ogset, "HlsGroupSettings");
            g->type = SFN_MEDIA_HLS_TS;
            g->gtype = "HLS_GROUP_SETTINGS";

            p = sfn_task_string(gs, "SegmentType");
            if (p && strcmp(p, "FMP4") == 0) {
                g->type = SFN_MEDIA_HLS_FMP4;
            }

        } else if (strcmp(gtype, "CMAF_GROUP_SETTINGS") == 0) {
            gs = cJSON_GetObjectItemCaseSensitive(ogset, "CmafGroupSettings");
            g->type = SFN_MEDIA_HLS_FMP4;
            g->gtype = "CMAF_GROUP_SETTINGS";

        } else {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "output group \"%s\": unsupported Type "
                                 "\"%s\"", g->name, gtype);
        }

        if (sfn_media_destination(call, set, g,
                                  sfn_task_string(gs, "Destination"))
            != SFN_TASK_OK)
        {
            return SFN_TASK_FAILED;
        }

        if (g->type != SFN_MEDIA_MP4) {
            if (sfn_media_num(call, gs,
                              g->type == SFN_MEDIA_HLS_TS
                              || strcmp(g->gtype, "HLS_GROUP_SETTINGS") == 0
                              ? "HlsGroupSettings" : "CmafGroupSettings",
                              "SegmentLength", 6, 1, 60, &g->seglen)
                != SFN_TASK_OK)
            {
                return SFN_TASK_FAILED;
            }

            /*
             * A short first segment starts a player (and a preview) sooner;
             * the others keep SegmentLength, cut at its multiples.
             */

            if (sfn_media_num(call, gs,
                              g->type == SFN_MEDIA_HLS_TS
                              || strcmp(g->gtype, "HLS_GROUP_SETTINGS") == 0
                              ? "HlsGroupSettings" : "CmafGroupSettings",
                              "FirstSegmentLength",
                              g->seglen < 1 ? g->seglen : 1, 0.5, g->seglen,
                              &g->first)
                != SFN_TASK_OK)
            {
                return SFN_TASK_FAILED;
            }

            /* one key frame cadence serves all groups: the shortest */

            if (set->seglen == 0 || g->seglen < set->seglen) {
                set->seglen = g->seglen;
            }
        }

        if (sfn_media_parse_abr(call, g, og) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }

        outs = cJSON_GetObjectItemCaseSensitive(og, "Outputs");

        if (!cJSON_IsArray(outs) || cJSON_GetArraySize(outs) == 0) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "output group \"%s\": Outputs is empty",
                                 g->name);
        }

        for (j = 0; j < cJSON_GetArraySize(outs); j++) {
            o = cJSON_GetArrayItem(outs, j);

            container = sfn_task_string(
                cJSON_GetObjectItemCaseSensitive(o, "ContainerSettings"),
                "Container");
            vd = cJSON_GetObjectItemCaseSensitive(o, "VideoDescription");
            cs = cJSON_GetObjectItemCaseSensitive(vd, "CodecSettings");
            codec = sfn_task_string(cs, "Codec");
            ads = cJSON_GetObjectItemCaseSensitive(o, "AudioDescriptions");

            if (codec && strcmp(codec, "FRAME_CAPTURE") == 0) {
                if (sfn_media_parse_thumbs(call, set, g, o, vd)
                    != SFN_TASK_OK)
                {
                    return SFN_TASK_FAILED;
                }

                g->thumbs = 1;
                continue;
            }

            type = g->type;

            if (g->type == SFN_MEDIA_MP4 && container
                && strcmp(container, "MP4") != 0)
            {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "output group \"%s\": unsupported "
                                     "Container \"%s\"", g->name, container);
            }

            if (vd && codec && strcmp(codec, "H_264") != 0) {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "output group \"%s\": unsupported video "
                                     "codec \"%s\"", g->name, codec);
            }

            if (set->noutputs == SFN_MEDIA_MAX_OUTS) {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "too many outputs");
            }

            out = &set->outputs[set->noutputs];
            memset(out, 0, sizeof(sfn_media_output_t));
            out->type = type;
            out->group = (int) (g - set->groups);
            out->rend = -1;
            out->aenc = -1;

            nm = sfn_task_string(o, "NameModifier");

            if ((nm && strchr(nm, '/'))
                || sfn_media_fmt(out->name, sizeof(out->name), "%s%s",
                                 g->base, nm ? nm : "")
                   < 0
                || sfn_media_output_keys(g, out) != SFN_TASK_OK)
            {
                return sfn_media_bad_modifier(call, nm);
            }

            /* a '%' in a playlist's URI would read as percent-encoding */

            if (type != SFN_MEDIA_MP4
                && (strchr(g->prefix, '%') || strchr(out->name, '%')))
            {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "output group \"%s\": HLS file names "
                                     "cannot hold '%%'", g->name);
            }

            if (vd == NULL && !cJSON_IsArray(ads)) {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "output group \"%s\": an output has "
                                     "neither video nor audio", g->name);
            }

            if (vd) {
                if (sfn_media_parse_video(call, vd, &vspec) != SFN_TASK_OK) {
                    return SFN_TASK_FAILED;
                }

                if (g->abr) {
                    if (vspec.width || vspec.height || vspec.crf < 0) {
                        return sfn_task_fail(call, "States.TaskFailed",
                                             "output group \"%s\": with "
                                             "AbrSettings the video output "
                                             "has no Width or Height and "
                                             "uses QVBR", g->name);
                    }

                    if (g->abr == 2) {
                        return sfn_task_fail(call, "States.TaskFailed",
                                             "output group \"%s\": with "
                                             "AbrSettings only one output "
                                             "has video", g->name);
                    }

                    g->abr = 2;
                    out->abr = 1;
                }

                out->vspec = vspec;
                out->rend = sfn_media_add_rend(call, set, &vspec);
                if (out->rend < 0) {
                    return SFN_TASK_FAILED;
                }
            }

            if (cJSON_IsArray(ads) && cJSON_GetArraySize(ads) > 0) {
                if (sfn_media_parse_audio(call, ads, &aspec) != SFN_TASK_OK) {
                    return SFN_TASK_FAILED;
                }

                out->aenc = sfn_media_add_aenc(call, set, &aspec);
                if (out->aenc < 0) {
                    return SFN_TASK_FAILED;
                }
            }

            set->noutputs++;
        }
    }

    if (set->seglen == 0) {
        set->seglen = 6;
    }

    set->keyint = SFN_MEDIA_KEYINT;

    return SFN_TASK_OK;
}


/* fitting the plan to its source */


void
sfn_media_fit_size(int sw, int sh, int w, int h, int *ow, int *oh)
{
    if (w == 0 && h == 0) {
        w = sw;
        h = sh;

    } else if (w == 0) {
        w = (int) ((double) h * sw / sh + 0.5);

    } else if (h == 0) {
        h = (int) ((double) w * sh / sw + 0.5);
    }

    /* 4:2:0 wants even sizes */

    *ow = w & ~1;
    *oh = h & ~1;
}


/* how much a box scales the source picture fitted into it */

static double
sfn_media_fit_scale(const sfn_media_source_t *src, int ow, int oh)
{
    double  x, y;

    x = (double) ow / src->width;
    y = (double) oh / src->height;

    return x < y ? x : y;
}


/*
 * The rungs of an automated ABR ladder.  Their shorter sides are the
 * source's (at most 2160) and the usual ones below it, down to 234; each
 * rung's MaxBitrate follows its pixels to the power 0.75, MaxAbrBitrate
 * at 1080p.  A rung whose rate falls under MinAbrBitrate is dropped, and
 * MaxRenditions keeps the top, the bottom and evenly spaced ones between.
 */

static int
sfn_media_abr_ladder(const sfn_media_abr_t *abr,
    const sfn_media_source_t *src, int *w, int *h, int64_t *rate)
{
    int      i, n, m, k, nc, lw, cand[8], side[8];
    double   r, s, l;
    int64_t  br[8];

    static const int  sides[] = { 1440, 1080, 720, 540, 360, 234 };

    s = src->width < src->height ? src->width : src->height;
    l = src->width < src->height ? src->height : src->width;

    nc = 0;
    cand[nc++] = (s > 2160 ? 2160 : (int) s) & ~1;

    for (i = 0; i < (int) (sizeof(sides) / sizeof(sides[0])); i++) {
        if (sides[i] * 1.15 < cand[0]) {
            cand[nc++] = sides[i];
        }
    }

    n = 0;

    for (i = 0; i < nc; i++) {
        lw = (int) (cand[i] * l / s + 0.5) & ~1;
        r = abr->max_bitrate
            * pow((double) lw * cand[i] / (1920.0 * 1080), 0.75);

        if (r > abr->max_bitrate) {
            r = (double) abr->max_bitrate;
        }

        if (r < abr->min_bitrate) {
            if (n > 0) {
                break;
            }

            r = (double) abr->min_bitrate;
        }

        side[n] = cand[i] < 2 ? 2 : cand[i];
        br[n] = (int64_t) r / 1000 * 1000;
        n++;
    }

    m = n < abr->max_renditions ? n : abr->max_renditions;

    for (i = 0; i < m; i++) {
        k = m == 1 ? 0 : (int) ((double) i * (n - 1) / (m - 1) + 0.5);

        lw = (int) (side[k] * l / s + 0.5) & ~1;
        w[i] = src->width < src->height ? side[k] : lw;
        h[i] = src->width < src->height ? lw : side[k];
        rate[i] = br[k];
    }

    return m;
}


static int
sfn_media_fit_abr(sfn_task_call_t *call, sfn_media_settings_t *set,
    const sfn_media_source_t *src, sfn_media_output_t *outs, int *n)
{
    int                  i, k, m, w[16], h[16];
    int64_t              rate[16];
    sfn_media_group_t   *g;
    sfn_media_output_t  *o, *r;

    *n = 0;

    for (i = 0; i < set->noutputs; i++) {
        o = &set->outputs[i];

        if (!o->abr) {
            outs[(*n)++] = *o;
            continue;
        }

        g = &set->groups[o->group];
        m = sfn_media_abr_ladder(&g->abr_settings, src, w, h, rate);

        for (k = 0; k < m; k++) {
            if (*n == SFN_MEDIA_MAX_OUTS) {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "too many outputs");
            }

            r = &outs[(*n)++];
            *r = *o;
            r->vspec.width = w[k];
            r->vspec.height = h[k];
            r->vspec.maxrate = rate[k];
            r->vspec.bufsize = 2 * rate[k];

            if (sfn_media_fmt(r->name, sizeof(r->name), "%s_%dp", o->name,
                              w[k] < h[k] ? w[k] : h[k])
                < 0
                || sfn_media_output_keys(g, r) != SFN_TASK_OK)
            {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "output group \"%s\": a rung's name "
                                     "is too long", g->name);
            }
        }
    }

    return SFN_TASK_OK;
}


/* a group drops its rungs larger than the source, or shrinks its last */

static void
sfn_media_fit_group(const sfn_media_source_t *src, sfn_media_output_t *outs,
    int n, int group, char *drop)
{
    int                  i, fits, best;
    double               f, area, best_area;
    sfn_media_vspec_t   *v;

    fits = 0;
    best = -1;
    best_area = 0;

    for (i = 0; i < n; i++) {
        if (outs[i].group != group || outs[i].rend < 0) {
            continue;
        }

        v = &outs[i].vspec;

        if (sfn_media_fit_scale(src, v->width, v->height) <= 1.0) {
            fits = 1;
            continue;
        }

        area = (double) v->width * v->height;

        if (best < 0 || area < best_area) {
            best = i;
            best_area = area;
        }
    }

    for (i = 0; i < n; i++) {
        if (outs[i].group != group || outs[i].rend < 0) {
            continue;
        }

        v = &outs[i].vspec;
        f = sfn_media_fit_scale(src, v->width, v->height);

        if (f <= 1.0) {
            continue;
        }

        if (fits || i != best) {
            drop[i] = 1;
            continue;
        }

        v->width = (int) (v->width / f) & ~1;
        v->height = (int) (v->height / f) & ~1;

        if (v->width < 2 || v->height < 2) {
            v->width = src->width & ~1;
            v->height = src->height & ~1;
        }
    }
}


static void
sfn_media_fit_capture(const sfn_media_source_t *src, sfn_media_capture_t *c)
{
    int     w, h;
    double  f, span;

    sfn_media_fit_size(src->width, src->height, c->width, c->height, &w, &h);

    f = sfn_media_fit_scale(src, w, h);

    if (f > 1.0) {
        w = (int) (w / f) & ~1;
        h = (int) (h / f) & ~1;
    }

    c->width = w < 2 ? 2 : w;
    c->height = h < 2 ? 2 : h;

    /* spread: one capture in the middle of each of max equal parts */

    /* an unknown duration: every 10 s from the offset, as without spread */

    if (c->spread) {
        span = src->duration - c->offset;
        c->interval = span > 0 ? span / c->max : 10;
        c->offset += span > 0 ? c->interval / 2 : 0;
    }

    if (!c->sprite) {
        return;
    }

    if (c->tile_width > c->width) {
        c->tile_width = c->width;
        c->tile_height = 0;
    }

    if (c->tile_height == 0) {
        c->tile_height = (int) ((double) c->tile_width * c->height
                                / c->width + 0.5) & ~1;
    }

    if (c->tile_height < 2) {
        c->tile_height = 2;
    }

    if (c->columns * c->tile_width > SFN_MEDIA_MAX_SPRITE) {
        c->columns = SFN_MEDIA_MAX_SPRITE / c->tile_width;
    }

    if (c->rows == 0) {
        c->rows = (c->max + c->columns - 1) / c->columns;
    }

    if (c->rows * c->tile_height > SFN_MEDIA_MAX_SPRITE) {
        c->rows = SFN_MEDIA_MAX_SPRITE / c->tile_height;
    }
}


int
sfn_media_settings_fit(sfn_task_call_t *call, sfn_media_settings_t *set,
    const sfn_media_source_t *src)
{
    int                  i, j, n, rc, w, h;
    char                 drop[SFN_MEDIA_MAX_OUTS];
    double               gop;
    sfn_media_output_t  *outs, *o;

    for (i = 0; i < set->ncaptures; i++) {
        if (src->width > 0 && src->height > 0) {
            sfn_media_fit_capture(src, &set->captures[i]);
        }
    }

    /* without a picture there is nothing to fit: the job says so later */

    if (src->width <= 0 || src->height <= 0) {
        return SFN_TASK_OK;
    }

    outs = malloc(SFN_MEDIA_MAX_OUTS * sizeof(sfn_media_output_t));
    if (outs == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    rc = sfn_media_fit_abr(call, set, src, outs, &n);
    if (rc != SFN_TASK_OK) {
        free(outs);
        return rc;
    }

    for (i = 0; i < n; i++) {
        if (outs[i].rend >= 0) {
            sfn_media_fit_size(src->width, src->height, outs[i].vspec.width,
                               outs[i].vspec.height, &w, &h);
            outs[i].vspec.width = w;
            outs[i].vspec.height = h;
        }
    }

    memset(drop, 0, sizeof(drop));

    for (i = 0; i < set->ngroups; i++) {
        sfn_media_fit_group(src, outs, n, i, drop);
    }

    /* an ABR rung the size of a rendition asked for shares its encode */

    for (i = 0; i < n; i++) {
        if (!outs[i].abr || drop[i] || outs[i].rend < 0) {
            continue;
        }

        for (j = 0; j < n; j++) {
            if (!outs[j].abr && !drop[j] && outs[j].rend >= 0
                && outs[j].vspec.width == outs[i].vspec.width
                && outs[j].vspec.height == outs[i].vspec.height)
            {
                outs[i].vspec = outs[j].vspec;
                break;
            }
        }
    }

    set->nvspecs = 0;
    set->noutputs = 0;
    gop = 0;

    for (i = 0; i < n; i++) {
        if (drop[i]) {
            continue;
        }

        o = &set->outputs[set->noutputs++];
        *o = outs[i];

        if (o->rend < 0) {
            continue;
        }

        o->rend = sfn_media_add_rend(call, set, &o->vspec);

        if (o->vspec.gop > 0 && (gop == 0 || o->vspec.gop / 1000.0 < gop)) {
            gop = o->vspec.gop / 1000.0;
        }
    }

    free(outs);

    /* one key frame cadence for every rendition, so that all align */

    set->keyint = gop > 0 ? gop : SFN_MEDIA_KEYINT;

    return SFN_TASK_OK;
}


/*
 * Our own job spec, turned into MediaConvert Settings:
 *
 *   {"input": {"bucket", "key"},
 *    "outputs": [
 *      {"type": "mp4", "bucket", "key", "width", "height", "quality" | "crf",
 *       "maxBitrate", "audioBitrate"},
 *      {"type": "hls", "bucket", "prefix", "name", "segmentLength",
 *       "firstSegmentLength",
 *       "segmentType": "ts" | "fmp4", "renditions": [{"name", "width", ...}]},
 *      {"type": "thumbnails", "bucket", "prefix", "count", "interval",
 *       "width", "height", "quality"}]}
 */

static cJSON *
sfn_media_spec_video(const cJSON *r)
{
    cJSON        *vd, *cs, *h, *q;
    const cJSON  *item;

    vd = cJSON_CreateObject();

    item = cJSON_GetObjectItemCaseSensitive(r, "width");
    if (cJSON_IsNumber(item)) {
        cJSON_AddNumberToObject(vd, "Width", item->valuedouble);
    }

    item = cJSON_GetObjectItemCaseSensitive(r, "height");
    if (cJSON_IsNumber(item)) {
        cJSON_AddNumberToObject(vd, "Height", item->valuedouble);
    }

    cs = cJSON_AddObjectToObject(vd, "CodecSettings");
    cJSON_AddStringToObject(cs, "Codec", "H_264");
    h = cJSON_AddObjectToObject(cs, "H264Settings");

    item = cJSON_GetObjectItemCaseSensitive(r, "bitrate");

    if (cJSON_IsNumber(item)) {
        cJSON_AddStringToObject(h, "RateControlMode", "VBR");
        cJSON_AddNumberToObject(h, "Bitrate", item->valuedouble);

    } else {
        cJSON_AddStringToObject(h, "RateControlMode", "QVBR");
        q = cJSON_AddObjectToObject(h, "QvbrSettings");
        cJSON_AddNumberToObject(q, "QvbrQualityLevel",
                                sfn_media_number(r, "quality", 7));
    }

    item = cJSON_GetObjectItemCaseSensitive(r, "crf");
    if (cJSON_IsNumber(item)) {
        cJSON_AddNumberToObject(h, "Crf", item->valuedouble);
    }

    item = cJSON_GetObjectItemCaseSensitive(r, "maxBitrate");
    if (cJSON_IsNumber(item)) {
        cJSON_AddNumberToObject(h, "MaxBitrate", item->valuedouble);
    }

    item = cJSON_GetObjectItemCaseSensitive(r, "preset");
    if (cJSON_IsString(item)) {
        cJSON_AddStringToObject(h, "Preset", item->valuestring);
    }

    return vd;
}


static void
sfn_media_spec_audio(cJSON *o, const cJSON *r)
{
    cJSON  *ads, *ad, *cs, *aac;

    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r, "audio"))) {
        return;
    }

    ads = cJSON_AddArrayToObject(o, "AudioDescriptions");
    ad = cJSON_CreateObject();
    cJSON_AddItemToArray(ads, ad);
    cs = cJSON_AddObjectToObject(ad, "CodecSettings");
    cJSON_AddStringToObject(cs, "Codec", "AAC");
    aac = cJSON_AddObjectToObject(cs, "AacSettings");
    cJSON_AddNumberToObject(aac, "Bitrate",
                            sfn_media_number(r, "audioBitrate", 128000));
    cJSON_AddNumberToObject(aac, "SampleRate",
                            sfn_media_number(r, "sampleRate", 48000));
    cJSON_AddStringToObject(aac, "CodingMode",
                            sfn_media_number(r, "channels", 2) == 1
                            ? "CODING_MODE_1_0" : "CODING_MODE_2_0");
}


cJSON *
sfn_media_settings_from_spec(sfn_task_call_t *call, const cJSON *spec)
{
    int           i, j;
    char          dest[2048], *p;
    cJSON        *set, *ins, *in, *ogs, *og, *ogset, *gs, *outs, *o, *vd;
    cJSON        *cs, *fc;
    double        count, interval;
    const char   *type, *bucket, *key, *prefix, *name, *st;
    const cJSON  *input, *sp, *r, *rs;

    input = cJSON_GetObjectItemCaseSensitive(spec, "input");
    bucket = sfn_task_string(input, "bucket");
    key = sfn_task_string(input, "key");

    if (bucket == NULL || key == NULL) {
        sfn_task_fail(call, "States.TaskFailed",
                      "a job needs \"Settings\" or \"input\": "
                      "{\"bucket\", \"key\"}");
        return NULL;
    }

    set = cJSON_CreateObject();
    ins = cJSON_AddArrayToObject(set, "Inputs");
    in = cJSON_CreateObject();
    cJSON_AddItemToArray(ins, in);
    snprintf(dest, sizeof(dest), "s3://%s/%s", bucket, key);
    cJSON_AddStringToObject(in, "FileInput", dest);

    ogs = cJSON_AddArrayToObject(set, "OutputGroups");
    outs = NULL;

    for (i = 0; i < cJSON_GetArraySize(
                        cJSON_GetObjectItemCaseSensitive(spec, "outputs"));
         i++)
    {
        sp = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(spec,
                                                                 "outputs"),
                                i);
        type = sfn_task_string(sp, "type");
        bucket = sfn_task_string(sp, "bucket");
        key = sfn_task_string(sp, "key");
        prefix = sfn_task_string(sp, "prefix");
        name = sfn_task_string(sp, "name");

        if (type == NULL || bucket == NULL) {
            sfn_task_fail(call, "States.TaskFailed",
                          "outputs[%d] needs \"type\" and \"bucket\"", i);
            cJSON_Delete(set);
            return NULL;
        }

        og = cJSON_CreateObject();
        cJSON_AddItemToArray(ogs, og);
        cJSON_AddStringToObject(og, "Name", type);
        ogset = cJSON_AddObjectToObject(og, "OutputGroupSettings");
        outs = cJSON_AddArrayToObject(og, "Outputs");

        if (strcmp(type, "mp4") == 0) {
            if (key == NULL) {
                sfn_task_fail(call, "States.TaskFailed",
                              "outputs[%d] needs \"key\"", i);
                cJSON_Delete(set);
                return NULL;
            }

            snprintf(dest, sizeof(dest), "s3://%s/%s", bucket, key);

            p = strrchr(dest, '.');
            if (p && strcmp(p, ".mp4") == 0) {
                *p = '\0';
            }

            cJSON_AddStringToObject(ogset, "Type", "FILE_GROUP_SETTINGS");
            gs = cJSON_AddObjectToObject(ogset, "FileGroupSettings");
            cJSON_AddStringToObject(gs, "Destination", dest);

            o = cJSON_CreateObject();
            cJSON_AddItemToArray(outs, o);
            cJSON_AddStringToObject(cJSON_AddObjectToObject(o,
                                        "ContainerSettings"),
                                    "Container", "MP4");
            cJSON_AddItemToObject(o, "VideoDescription",
                                  sfn_media_spec_video(sp));
            sfn_media_spec_audio(o, sp);

        } else if (strcmp(type, "hls") == 0) {
            snprintf(dest, sizeof(dest), "s3://%s/%s%s", bucket,
                     prefix ? prefix : "", name ? name : "");
            cJSON_AddStringToObject(ogset, "Type", "HLS_GROUP_SETTINGS");
            gs = cJSON_AddObjectToObject(ogset, "HlsGroupSettings");
            cJSON_AddStringToObject(gs, "Destination", dest);
            cJSON_AddNumberToObject(gs, "SegmentLength",
                                    sfn_media_number(sp, "segmentLength", 6));

            if (cJSON_GetObjectItemCaseSensitive(sp, "firstSegmentLength")) {
                cJSON_AddItemToObject(gs, "FirstSegmentLength",
                    cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(sp,
                                        "firstSegmentLength"), 1));
            }

            st = sfn_task_string(sp, "segmentType");
            cJSON_AddStringToObject(gs, "SegmentType",
                                    st && strcmp(st, "fmp4") == 0
                                    ? "FMP4" : "TS");

            rs = cJSON_GetObjectItemCaseSensitive(sp, "renditions");

            for (j = 0; j < cJSON_GetArraySize(rs); j++) {
                r = cJSON_GetArrayItem(rs, j);
                o = cJSON_CreateObject();
                cJSON_AddItemToArray(outs, o);
                name = sfn_task_string(r, "name");
                cJSON_AddStringToObject(o, "NameModifier", name ? name : "");
                cJSON_AddStringToObject(cJSON_AddObjectToObject(o,
                                            "ContainerSettings"),
                                        "Container", "M3U8");
                cJSON_AddItemToObject(o, "VideoDescription",
                                      sfn_media_spec_video(r));
                sfn_media_spec_audio(o, r);
            }

        } else if (strcmp(type, "thumbnails") == 0) {
            snprintf(dest, sizeof(dest), "s3://%s/%s%s", bucket,
                     prefix ? prefix : "", name ? name : "");
            cJSON_AddStringToObject(ogset, "Type", "FILE_GROUP_SETTINGS");
            gs = cJSON_AddObjectToObject(ogset, "FileGroupSettings");
            cJSON_AddStringToObject(gs, "Destination", dest);

            o = cJSON_CreateObject();
            cJSON_AddItemToArray(outs, o);
            cJSON_AddStringToObject(o, "NameModifier", "_thumb_%04d");
            cJSON_AddStringToObject(cJSON_AddObjectToObject(o,
                                        "ContainerSettings"),
                                    "Container", "RAW");
            vd = cJSON_AddObjectToObject(o, "VideoDescription");
            cJSON_AddNumberToObject(vd, "Width",
                                    sfn_media_number(sp, "width", 640));
            cJSON_AddNumberToObject(vd, "Height",
                                    sfn_media_number(sp, "height", 360));
            cs = cJSON_AddObjectToObject(vd, "CodecSettings");
            cJSON_AddStringToObject(cs, "Codec", "FRAME_CAPTURE");
            fc = cJSON_AddObjectToObject(cs, "FrameCaptureSettings");

            count = sfn_media_number(sp, "count", 5);
            interval = sfn_media_number(sp, "interval", 10);

            cJSON_AddNumberToObject(fc, "FramerateNumerator", 1000);
            cJSON_AddNumberToObject(fc, "FramerateDenominator",
                                    interval * 1000);
            cJSON_AddNumberToObject(fc, "MaxCaptures", count);
            cJSON_AddNumberToObject(fc, "Quality",
                                    sfn_media_number(sp, "quality", 80));
            cJSON_AddNumberToObject(fc, "Offset",
                                    sfn_media_number(sp, "offset", 0));

        } else {
            sfn_task_fail(call, "States.TaskFailed",
                          "outputs[%d]: unknown type \"%s\"", i, type);
            cJSON_Delete(set);
            return NULL;
        }
    }

    return set;
}


int
sfn_media_capture_key(const sfn_media_capture_t *c, int n, char *buf,
    size_t size)
{
    int          len, width;
    char         mod[160];
    const char  *p;

    /* "_thumb_%04d" numbers from 1; otherwise MediaConvert's ".0000000" */

    p = strchr(c->modifier, '%');

    if (p && sscanf(p, "%%0%dd%n", &width, &len) == 1
        && width > 0 && width < 10)
    {
        if (sfn_media_fmt(mod, sizeof(mod), "%.*s%0*d%s",
                          (int) (p - c->modifier), c->modifier, width, n + 1,
                          p + len)
            < 0)
        {
            return -1;
        }

        return sfn_media_fmt(buf, size, "%s%s%s.jpg", c->prefix, c->base,
                             mod);
    }

    return sfn_media_fmt(buf, size, "%s%s%s.%07d.jpg", c->prefix, c->base,
                         c->modifier, n);
}


int
sfn_media_capture_extra(const sfn_media_capture_t *c, const char *what,
    char *buf, size_t size)
{
    if (strcmp(what, "poster") == 0) {
        return sfn_media_fmt(buf, size, "%s%s_poster.jpg", c->prefix,
                             c->base);
    }

    return sfn_media_fmt(buf, size, "%s%s_thumbs.%s", c->prefix, c->base,
                         what);
}
