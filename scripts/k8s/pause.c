/* The pod sandbox's process (containerd's sandbox_image): sleeps until SIGTERM or SIGINT.
   Built statically by scripts/k8s.sh into a scratch image (no image registry is reachable). */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  signal(SIGCHLD, reap);
  for (;;) pause();
  return 0;
}
