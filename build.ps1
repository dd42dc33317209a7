# DeepTrain build script for PowerShell: a thin mirror of build.sh (same targets, same dotnet and cmake calls).
param([Parameter(Position = 0)][string]$Target = "help", [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
$Config = if ($env:CONFIG) { $env:CONFIG } else { "Release" }

function Build-Native {
    $nvcc = Get-Command nvcc -ErrorAction SilentlyContinue
    if (-not $nvcc) { Write-Host "nvcc not found: skipping native/"; return }
    cmake -S native -B native/build -DCMAKE_BUILD_TYPE=Release
    cmake --build native/build --config Release
}

switch ($Target) {
    "build" { dotnet build DeepTrain.sln -c $Config; Build-Native }
    "test" {
        dotnet build tests/DeepTrain.Tests -c $Config
        $exe = "tests/DeepTrain.Tests/bin/$Config/net10.0/DeepTrain.Tests"
        New-Item -ItemType Directory -Force artifacts/test-results | Out-Null
        & $exe -noColor -trx artifacts/test-results/tests.trx @Rest
        $rc = $LASTEXITCODE
        [xml]$trx = Get-Content artifacts/test-results/tests.trx
        $c = $trx.TestRun.ResultSummary.Counters
        Write-Host "$($c.passed) passed, $([int]$c.failed + [int]$c.error) failed, $($c.notExecuted) skipped"
        exit $rc
    }
    "train" {
        dotnet build src/DeepTrain.Cli -c Release
        & "src/DeepTrain.Cli/bin/Release/net10.0/DeepTrain.Cli" train --model resnet20 --data fashion-mnist --epochs 4 --batch-size 128 --lr 0.2 --schedule one-cycle --augment --device cpu --seed 1 --out runs/resnet20-fashion-mnist --overwrite @Rest
    }
    "bench" { dotnet build benchmarks/DeepTrain.Benchmarks -c Release; & "benchmarks/DeepTrain.Benchmarks/bin/Release/net10.0/DeepTrain.Benchmarks" @Rest }
    "native" { Build-Native }
    "pack" {
        # Same packages as ./build.sh pack: DeepTrain.Interop, DeepTrain and the deeptrain tool (DeepTrain.Cli) in artifacts/packages.
        Build-Native
        $out = if ($env:PACKAGE_OUT) { $env:PACKAGE_OUT } else { "artifacts/packages" }
        $versionArgs = if ($env:RELEASE -eq "1") { @("-p:VersionSuffix=") } else { @() }
        Remove-Item -Recurse -Force $out -ErrorAction SilentlyContinue
        foreach ($p in "interop/DeepTrain.Interop", "src/DeepTrain", "src/DeepTrain.Cli") {
            dotnet pack $p -c $Config -o $out @versionArgs
            if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
        }
    }
    "bundle" {
        # The bundle is a Linux x64 tarball with a Linux runtime and bash launchers; build.sh assembles it.
        if ($IsLinux -and (Get-Command bash -ErrorAction SilentlyContinue)) { & bash ./build.sh bundle @Rest; exit $LASTEXITCODE }
        Write-Host "bundle is Linux-only: run ./build.sh bundle on Linux x64 (or WSL)"; exit 2
    }
    "device-pack" {
        # The device pack holds the Linux bundle; build.sh assembles both.
        if ($IsLinux -and (Get-Command bash -ErrorAction SilentlyContinue)) { & bash ./build.sh device-pack @Rest; exit $LASTEXITCODE }
        Write-Host "device-pack is Linux-only: run ./build.sh device-pack on Linux x64 (or WSL)"; exit 2
    }
    "clean" { Remove-Item -Recurse -Force artifacts, native/build -ErrorAction SilentlyContinue; dotnet clean DeepTrain.sln }
    default { Write-Host "usage: ./build.ps1 build|test|train|bench|native|pack|bundle|device-pack|clean [args]" }
}
