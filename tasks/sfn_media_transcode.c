
/*
 * Copyright (C) ngx_sfn authors
 */


#include "sfn_media.h"


int
sfn_media_transcode(sfn_task_call_t *call)
{
    return sfn_task_fail(call, NULL, "not yet");
}


int
sfn_media_thumbnails(sfn_task_call_t *call)
{
    return sfn_task_fail(call, NULL, "not yet");
}
