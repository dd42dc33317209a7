namespace DeepTrain.Backends.Cuda;

/// <summary>No convolution algorithm fits the workspace limit: the message names the operation, the shapes, the smallest
/// workspace an acceptable algorithm needs and the limit.</summary>
public sealed class ConvWorkspaceLimitException : DeepTrainException
{
    /// <summary>Builds the exception.</summary>
    public ConvWorkspaceLimitException(string operation, string shapes, long neededBytes, long allowedBytes)
        : base($"{operation}: {shapes} needs at least {neededBytes} bytes of convolution workspace, but the limit is {allowedBytes} bytes " +
               "(CudaBackendOptions.ConvWorkspaceLimitBytes; raise it or use a smaller batch)")
        => (Operation, NeededBytes, AllowedBytes) = (operation, neededBytes, allowedBytes);

    /// <summary>The backend operation.</summary>
    public string Operation { get; }
    /// <summary>The smallest workspace any acceptable algorithm needs.</summary>
    public long NeededBytes { get; }
    /// <summary>The configured limit.</summary>
    public long AllowedBytes { get; }
}
