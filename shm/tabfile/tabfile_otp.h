/*
 * tabfile_otp.h — private to libshmets (not installed): Erlang's table-file format (disk_log,
 * as ets:tab2file writes it), which tabfile.c's public calls hand over to (tabfile_otp.c).
 */
#ifndef SHMETS_TABFILE_OTP_H
#define SHMETS_TABFILE_OTP_H

#include "tabfile/tabfile_io.h"
#include "shmets.h"

int otp_is_head(const unsigned char *first8);      /* 1: a disk_log file's first bytes */
int otp_write(struct tf_wr *w, shmets_tab *t, const shmets_tab_info *info);
int otp_load(shmets *db, int fd, const char *what, const unsigned char *first8,
             const shmets_tabfile_opts *o, shmets_tab **out);
int otp_info(int fd, const char *what, const unsigned char *first8, shmets_tabfile_desc *info);

#endif
