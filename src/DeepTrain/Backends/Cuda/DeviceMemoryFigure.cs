namespace DeepTrain.Backends.Cuda;

/// <summary>
/// What a CUDA device can still give a plan, from the figures the runtime reports. <c>cudaMemGetInfo</c>'s free bytes
/// leave out memory that this process's stream-ordered pool holds but no buffer uses: <see cref="CudaBackend"/> keeps
/// freed memory in the pool (release threshold: unlimited), so after an evaluation plan is disposed its bytes are
/// reserved-but-idle and count as available to the next <c>cudaMallocAsync</c>. Pure arithmetic, so it is tested
/// without a GPU (the figures injected); <see cref="CudaBackend.AvailableMemoryBytes"/> reads them from the device.
/// </summary>
/// <param name="Free">Free device memory, <c>cudaMemGetInfo</c>'s first figure.</param>
/// <param name="Total">The device's memory, its second.</param>
/// <param name="PoolReserved">Bytes the default pool has mapped (<c>cudaMemPoolAttrReservedMemCurrent</c>); 0 without pools.</param>
/// <param name="PoolUsed">Bytes of it handed out (<c>cudaMemPoolAttrUsedMemCurrent</c>).</param>
internal readonly record struct DeviceMemoryFigure(ulong Free, ulong Total, ulong PoolReserved = 0, ulong PoolUsed = 0)
{
    /// <summary>Free plus the pool's idle bytes, capped at the device's total and at <see cref="long.MaxValue"/>.</summary>
    public long Available
    {
        get
        {
            ulong idle = PoolReserved > PoolUsed ? PoolReserved - PoolUsed : 0;
            ulong sum = Free > ulong.MaxValue - idle ? ulong.MaxValue : Free + idle;
            return (long)Math.Min(Math.Min(sum, Total), long.MaxValue);
        }
    }
}
