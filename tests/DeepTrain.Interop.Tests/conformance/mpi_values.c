/* The MPI constants, struct layouts and predefined-handle symbols the bindings use, as the installed mpi.h defines them.
 * Compiled by MpiConformanceTests with mpicc (or cc and `mpicc --showme:compile`), run without mpirun (nothing here
 * initialises MPI), and its lines compared with the C# by name:
 *   NAME=value                      an integer constant or enum member
 *   sizeof(TYPE)=n, offsetof(TYPE,FIELD)=n
 *   symbol(HANDLE)=name             the exported global whose address the handle macro yields (dladdr), which the C#
 *                                   resolves with NativeLibrary.GetExport
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <mpi.h>

#define V(name) printf("%s=%lld\n", #name, (long long)(name))
#define S(type) printf("sizeof(%s)=%zu\n", #type, sizeof(type))
#define O(type, field) printf("offsetof(%s,%s)=%zu\n", #type, #field, offsetof(type, field))

static int symbol(const char *handle, const void *address)
{
    Dl_info info;
    if (dladdr(address, &info) == 0 || info.dli_sname == NULL || info.dli_saddr != address) {
        printf("symbol(%s)=?\n", handle);
        return 1;
    }
    printf("symbol(%s)=%s\n", handle, info.dli_sname);
    return 0;
}
#define H(handle) bad |= symbol(#handle, (const void *)(handle))

int main(void)
{
    int bad = 0;
    V(MPI_SUCCESS);
    V(MPI_ERR_BUFFER);
    V(MPI_ERR_COUNT);
    V(MPI_ERR_TYPE);
    V(MPI_ERR_TAG);
    V(MPI_ERR_COMM);
    V(MPI_ERR_RANK);
    V(MPI_ERR_REQUEST);
    V(MPI_ERR_ROOT);
    V(MPI_ERR_GROUP);
    V(MPI_ERR_OP);
    V(MPI_ERR_TOPOLOGY);
    V(MPI_ERR_DIMS);
    V(MPI_ERR_ARG);
    V(MPI_ERR_UNKNOWN);
    V(MPI_ERR_TRUNCATE);
    V(MPI_ERR_OTHER);
    V(MPI_ERR_INTERN);
    V(MPI_ERR_IN_STATUS);
    V(MPI_ERR_PENDING);
    V(MPI_ERR_ACCESS);
    V(MPI_ERR_AMODE);
    V(MPI_ERR_ASSERT);
    V(MPI_ERR_BAD_FILE);
    V(MPI_ERR_BASE);
    V(MPI_ERR_CONVERSION);
    V(MPI_ERR_DISP);
    V(MPI_ERR_DUP_DATAREP);
    V(MPI_ERR_FILE_EXISTS);
    V(MPI_ERR_FILE_IN_USE);
    V(MPI_ERR_FILE);
    V(MPI_ERR_INFO_KEY);
    V(MPI_ERR_INFO_NOKEY);
    V(MPI_ERR_INFO_VALUE);
    V(MPI_ERR_INFO);
    V(MPI_ERR_IO);
    V(MPI_ERR_KEYVAL);
    V(MPI_ERR_LOCKTYPE);
    V(MPI_ERR_NAME);
    V(MPI_ERR_NO_MEM);
    V(MPI_ERR_NOT_SAME);
    V(MPI_ERR_NO_SPACE);
    V(MPI_ERR_NO_SUCH_FILE);
    V(MPI_ERR_PORT);
    V(MPI_ERR_QUOTA);
    V(MPI_ERR_READ_ONLY);
    V(MPI_ERR_RMA_CONFLICT);
    V(MPI_ERR_RMA_SYNC);
    V(MPI_ERR_SERVICE);
    V(MPI_ERR_SIZE);
    V(MPI_ERR_SPAWN);
    V(MPI_ERR_UNSUPPORTED_DATAREP);
    V(MPI_ERR_UNSUPPORTED_OPERATION);
    V(MPI_ERR_WIN);
    V(MPI_ERR_RMA_RANGE);
    V(MPI_ERR_RMA_ATTACH);
    V(MPI_ERR_RMA_FLAVOR);
    V(MPI_ERR_RMA_SHARED);
    V(MPI_THREAD_SINGLE);
    V(MPI_THREAD_FUNNELED);
    V(MPI_THREAD_SERIALIZED);
    V(MPI_THREAD_MULTIPLE);
    V(MPI_COMM_TYPE_SHARED);
    V(MPI_IN_PLACE);
    V(MPI_MAX_ERROR_STRING);
    V(MPI_MAX_LIBRARY_VERSION_STRING);
    S(MPI_Status);
    O(MPI_Status, MPI_SOURCE);
    O(MPI_Status, MPI_TAG);
    O(MPI_Status, MPI_ERROR);
    O(MPI_Status, _cancelled);
    O(MPI_Status, _ucount);
    S(MPI_Comm);
    S(MPI_Datatype);
    S(MPI_Op);
    S(MPI_Errhandler);
    S(MPI_Info);
    S(MPI_Request);
    H(MPI_COMM_WORLD);
    H(MPI_COMM_NULL);
    H(MPI_BYTE);
    H(MPI_INT);
    H(MPI_FLOAT);
    H(MPI_DOUBLE);
    H(MPI_SUM);
    H(MPI_MAX);
    H(MPI_INFO_NULL);
    H(MPI_REQUEST_NULL);
    H(MPI_ERRORS_RETURN);
    H(MPI_ERRORS_ARE_FATAL);
    return bad;
}
