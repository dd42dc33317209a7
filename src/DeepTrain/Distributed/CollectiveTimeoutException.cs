namespace DeepTrain.Distributed;

/// <summary>
/// A collective did not complete within <see cref="DistributedOptions.Timeout"/>: another rank died, hangs or stopped
/// calling collectives (the watchdog that turns a silent hang into an error). The job cannot go on; the training run
/// aborts it with this message when <see cref="DistributedOptions.AbortOnFailure"/> is set.
/// </summary>
public sealed class CollectiveTimeoutException(string message) : DeepTrainException(message);
