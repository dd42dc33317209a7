// One rank of the MPI binding tests (tests/DeepTrain.Interop.Tests/MpiRankTests.cs runs `mpirun -n 2` of this).
// Modes:
//   collectives  rank/size/local rank, broadcast from rank 0, blocking and non-blocking all-reduce of known values
//                (exact sums: small integers are exact in float), int MAX, barrier, and a typed MpiException from a
//                broadcast with an invalid root. Prints "rank R: ok <check>" per check and "rank R: done"; exit 0.
//   abort        rank 1 calls MpiComm.Abort after a barrier while rank 0 waits in a second barrier: mpirun must end both.
// A failed check prints "rank R: FAIL <check>: <detail>" and exits 1.
using DeepTrain.Interop;

string mode = args.Length > 0 ? args[0] : "collectives";
using var mpi = MpiRuntime.Initialize(MpiThreadLevel.MPI_THREAD_SERIALIZED);
var world = mpi.World;
int rank = world.Rank, size = world.Size;
int failures = 0;
void Ok(string check, bool pass, string detail)
{
    Console.WriteLine(pass ? $"rank {rank}: ok {check}" : $"rank {rank}: FAIL {check}: {detail}");
    if (!pass) failures++;
}

if (mode == "abort")
{
    Console.WriteLine($"rank {rank}: started, size {size}");
    world.Barrier();
    if (rank == 1) world.Abort(3, "test abort from rank 1");
    world.Barrier();   // never completes: rank 1 is gone
    Console.WriteLine($"rank {rank}: FAIL abort: the second barrier completed");
    return 1;
}

Ok("size", size == 2, $"size {size}, expected 2");
Ok("thread level", mpi.ThreadLevel >= MpiThreadLevel.MPI_THREAD_SERIALIZED, mpi.ThreadLevel.ToString());
// One node: the local rank is the world rank.
Ok("local rank", world.LocalRank == rank && world.LocalSize == size, $"local {world.LocalRank}/{world.LocalSize}");

// Broadcast: rank 0 holds 0.5, 1.5, ...; the others start with garbage.
var b = new float[1000];
for (int i = 0; i < b.Length; i++) b[i] = rank == 0 ? i + 0.5f : -1f;
world.Broadcast<float>(b, root: 0);
int bad = Enumerable.Range(0, b.Length).FirstOrDefault(i => b[i] != i + 0.5f, -1);
Ok("broadcast float", bad < 0, bad < 0 ? "" : $"b[{bad}] = {b[bad]}");
var bytes = new byte[128];   // the size of an NCCL unique id
if (rank == 0) for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(255 - i);
world.Broadcast<byte>(bytes, root: 0);
Ok("broadcast bytes", bytes.Select((v, i) => v == (byte)(255 - i)).All(x => x), string.Join(",", bytes.Take(4)));

// Blocking all-reduce: rank r contributes (r + 1) * i, so the sum over 2 ranks is 3 * i, exact in float for i < 2^22 / 3.
// 100_003 elements: not a multiple of any vector or segment size.
var s = new float[100_003];
for (int i = 0; i < s.Length; i++) s[i] = (rank + 1) * (float)i;
world.AllReduceSum(s);
bad = Enumerable.Range(0, s.Length).FirstOrDefault(i => s[i] != 3f * i, -1);
Ok("allreduce sum", bad < 0, bad < 0 ? "" : $"s[{bad}] = {s[bad]}, expected {3f * bad}");

// Non-blocking all-reduce: rank r contributes r - 0.25 at every index; the sum is (0 - 0.25) + (1 - 0.25) = 0.5.
var a = new float[65_537];
Array.Fill(a, rank - 0.25f);
using (var request = world.AllReduceSumAsync(a))
{
    int polls = 0;
    while (!request.Test()) polls++;
    Ok("iallreduce test", request.IsCompleted, "");
    Console.WriteLine($"rank {rank}: MPI_Test polled {polls} time(s) before completion");
}
bad = Array.FindIndex(a, v => v != 0.5f);
Ok("iallreduce sum", bad < 0, bad < 0 ? "" : $"a[{bad}] = {a[bad]}");
var w = new float[4097];
Array.Fill(w, 1f);
var waited = world.AllReduceSumAsync(w);
waited.Wait();
waited.Dispose();
Ok("iallreduce wait", w.All(v => v == size), $"w[0] = {w[0]}");

// Int MAX, as the loss scaler's found-inf flag will be combined: only rank 1 raises it.
var flag = new[] { rank == 1 ? 1 : 0, rank };
world.AllReduce<int>(flag, MpiReduceOp.Max);
Ok("allreduce int max", flag[0] == 1 && flag[1] == 1, $"[{flag[0]}, {flag[1]}]");

// A typed error: an invalid root comes back through Check as MpiException with the library's message.
try
{
    world.Broadcast<float>(b.AsSpan(0, 1), root: size + 5);
    Ok("error is typed", false, "no exception for root " + (size + 5));
}
catch (MpiException e)
{
    Ok("error is typed", e.Error == MpiError.MPI_ERR_ROOT && e.LibraryMessage.Contains("invalid root", StringComparison.Ordinal) && e.Call.Contains("MPI_Bcast", StringComparison.Ordinal), e.Message);
    Console.WriteLine($"rank {rank}: MpiException: {e.Message}");
}

world.Barrier();
Console.WriteLine($"rank {rank}: {MpiRuntime.LibraryVersion}");
Console.WriteLine(failures == 0 ? $"rank {rank}: done" : $"rank {rank}: {failures} check(s) failed");
return failures == 0 ? 0 : 1;
