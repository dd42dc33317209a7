using System.Diagnostics;

namespace DeepTrain.Distributed;

/// <summary>Waits on a request by polling it, so that a peer that never arrives becomes an error after a bounded time.</summary>
internal static class CollectiveWatchdog
{
    /// <summary>Polls <paramref name="test"/> until it is true, yielding the core between polls; throws after <paramref name="timeout"/>.</summary>
    /// <exception cref="CollectiveTimeoutException">It did not complete in time; the message names the rank and what it waited for.</exception>
    public static void Wait(Func<bool> test, TimeSpan timeout, int rank, int size, string what)
    {
        if (test()) return;
        var clock = Stopwatch.StartNew();
        var spin = new SpinWait();
        while (!test())
        {
            if (clock.Elapsed > timeout)
                throw new CollectiveTimeoutException(
                    $"rank {rank} of {size}: {what} did not complete within {timeout.TotalSeconds:F0} s (DistributedOptions.Timeout); another rank has died, hangs, or stopped calling collectives");
            spin.SpinOnce(sleep1Threshold: 100);   // spins first (short waits), then sleeps 1 ms between polls
        }
    }
}
