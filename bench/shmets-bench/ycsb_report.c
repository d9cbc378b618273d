#include "ycsb.h"
int ycsb_report(const char *dir) { (void)dir; return 0; }
