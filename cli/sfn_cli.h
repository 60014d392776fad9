
/*
 * Copyright (C) ngx_sfn authors
 */

#ifndef _SFN_CLI_H_INCLUDED_
#define _SFN_CLI_H_INCLUDED_


int sfn_cli_known(void *data, const char *resource);
int sfn_cli_bench(int argc, char **argv);


#endif /* _SFN_CLI_H_INCLUDED_ */
