/* main.c — ternd: reads the settings, starts the server, runs until SIGTERM/SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

int main(int argc, char **argv)
{
    static server s;
    int rc = config_load(&s.cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);
    if (server_start(&s) != 0)
        return 1;
    server_run(&s);
    server_free(&s);
    return 0;
}
