// One rank of the data-parallel tests (tests/DeepTrain.Tests/Distributed/DataParallelRankTests.cs runs `mpirun -n 2` of
// this). Every mode prints "rank R: ok <check>" or "rank R: FAIL <check>: <detail>" per check and exits 1 on a failure.
//   equal-sgd, equal-adamw  20 steps of 2 ranks x batch 16 against 1 process x batch 32 (each rank also trains the
//                           single-process reference itself), a model without batch norm; weights within the stated tolerance,
//                           and bit-identical on both ranks. equal-sgd-cuda: the same on two GPUs over NCCL.
//   sync-bn                 ResNet-20, 20 steps of 2 ranks x batch 8 with sync batch norm against 1 process x batch 16
//                           (weights and running statistics within the stated tolerance, identical on both ranks), and the
//                           same 2 ranks without sync batch norm (beyond the tolerance).
//   collectives             all-reduce of known values, maximum, broadcast, and the found-inf combination (rank 1 alone
//                           overflows: both skip the step, both halve the scale).
//   overlap                 the bucket hook: the first bucket's all-reduce starts while backward still has layers to run.
//   bad-input               rank 1 alone is given a test set of another image size: the run aborts the whole job, naming rank 1.
//   late-start              rank 1 arrives 30 s late at the start-up broadcast: rank 0's 2 s watchdog names itself and
//                           aborts the job.
//   kill                    rank 1 kills itself (SIGKILL) in the middle of training: the launcher must end rank 0 too.
using DeepTrain.DistributedRanks;

string mode = args.Length > 0 ? args[0] : "collectives";
return Ranks.Run(mode);
