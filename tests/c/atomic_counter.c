/* Increments the 64-bit counter at offset 0 of FILE, COUNT times, with
 * __atomic_fetch_add on a MAP_SHARED mapping: the C side of the
 * mixed C/Python counter test.  usage: atomic_counter FILE COUNT */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long count;
    int fd;
    uint64_t *counter;
    if (argc != 3)
        return 2;
    count = atol(argv[2]);
    fd = open(argv[1], O_RDWR);
    counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd < 0 || counter == MAP_FAILED)
        return 3;
    for (long i = 0; i < count; i++)
        __atomic_fetch_add(counter, 1, __ATOMIC_SEQ_CST);
    return munmap(counter, 4096);
}
