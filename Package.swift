// swift-tools-version: 6.1
import PackageDescription

// No fast-math anywhere: results must be reproducible (see README, "Numerics").
let cFlags: [CSetting] = [
    .headerSearchPath("internal"),
    .define("NDEBUG", .when(configuration: .release)),
    .unsafeFlags(
        [
            "-O3", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Wextra",
            "-Wno-unused-parameter",
        ], .when(configuration: .release)),
    .unsafeFlags(
        ["-O1", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        .when(configuration: .debug)),
]

let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "PainFace",
    products: [
        .executable(name: "painface", targets: ["PainFaceCLI"]),
        .executable(name: "painface-bench", targets: ["PainFaceBench"]),
        .library(name: "PainFace", targets: ["PainFace"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        // C: the compute core and the image codecs
        .target(
            name: "CKernels", path: "CSources/CKernels", cSettings: cFlags,
            linkerSettings: [.linkedLibrary("m"), .linkedLibrary("pthread")]),
        // the content hash of cache keys and payload checksums
        .target(name: "CHash", path: "CSources/CHash", cSettings: [.unsafeFlags(["-O2", "-Wall"])]),
        // OpenBLAS, the GEMM peer of the benchmarks: only painface-bench links it
        .target(
            name: "CBLASBench", path: "CSources/CBLASBench", cSettings: [.unsafeFlags(["-O2", "-Wall"])],
            linkerSettings: [.linkedLibrary("openblas")]),
        .target(
            name: "CCodecs", path: "CSources/CCodecs",
            cSettings: [.unsafeFlags(["-O2", "-Wall"])],
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
        // Swift libraries, lowest first; each lists exactly what its files import
        .target(name: "Kernels", dependencies: ["CKernels"]),
        .target(name: "Weights", dependencies: ["CHash", "Kernels"]),
        .target(name: "NN", dependencies: ["Kernels", "Weights"]),
        // Hot pixel loops live in Swift here: optimise them in debug builds too, so the
        // test suite (debug) runs the detector on real photographs in seconds.
        .target(name: "Imaging", dependencies: ["CCodecs"], swiftSettings: optimisedInDebug),
        // video files through the ffmpeg and ffprobe executables (no FFmpeg libraries linked)
        .target(name: "Video", dependencies: ["Imaging"]),
        .target(
            name: "Faces", dependencies: ["Imaging", "Kernels", "NN", "Video", "Weights"],
            swiftSettings: optimisedInDebug),
        .target(name: "Dataset", dependencies: ["Imaging", "Video", "Weights"]),
        .target(name: "Training", dependencies: ["Kernels", "Weights"]),
        // class activation maps and their pictures
        .target(name: "Saliency", dependencies: ["Imaging", "Kernels"]),
        .target(name: "Features", dependencies: ["Dataset", "Faces", "Imaging", "Kernels", "NN", "Video", "Weights"]),
        .target(
            name: "PainFace",
            dependencies: [
                "Dataset", "Faces", "Features", "Imaging", "Kernels", "NN", "Saliency", "Training", "Video", "Weights",
            ]),
        // executables: the command line, and the benchmarks with the anchors peer
        .executableTarget(
            name: "PainFaceCLI",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"), "Dataset", "Faces", "Features",
                "Imaging", "Kernels", "NN", "PainFace", "Saliency", "Training", "Video", "Weights",
            ]),
        .executableTarget(
            name: "PainFaceBench",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"), "CBLASBench", "Faces", "Features",
                "Imaging", "Kernels", "NN", "Training", "Weights",
            ]),
        // tests: unit tests per module, golden parity with Keras and PyTorch, the command line end to end
        .target(name: "TestSupport", dependencies: ["Kernels", "NN", "Weights"], path: "Tests/TestSupport"),
        .testTarget(name: "KernelTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "WeightsTests", dependencies: ["Kernels", "TestSupport", "Weights"]),
        .testTarget(name: "NNTests", dependencies: ["Kernels", "NN", "TestSupport", "Weights"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"]),
        .testTarget(name: "FacesTests", dependencies: ["Faces", "Imaging", "Kernels", "TestSupport"]),
        .testTarget(
            name: "VideoTests",
            dependencies: ["Faces", "Features", "Imaging", "Kernels", "NN", "TestSupport", "Video", "Weights"]),
        .testTarget(name: "DatasetTests", dependencies: ["Dataset", "TestSupport", "Weights"]),
        .testTarget(
            name: "SaliencyTests",
            dependencies: ["Kernels", "NN", "Saliency", "TestSupport", "Training", "Weights"]),
        .testTarget(name: "TrainingTests", dependencies: ["Kernels", "TestSupport", "Training", "Weights"]),
        .testTarget(
            name: "PainFaceTests",
            dependencies: [
                "Dataset", "Faces", "Features", "Imaging", "Kernels", "NN", "PainFace", "TestSupport", "Training",
                "Weights",
            ]),
        .testTarget(
            name: "ParityTests", dependencies: ["Faces", "Kernels", "NN", "TestSupport", "Training", "Weights"]),
        .testTarget(name: "BenchTests", dependencies: ["CBLASBench", "Kernels", "TestSupport"]),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "Dataset", "Features", "Imaging", "Kernels", "PainFace", "TestSupport", "Training", "Weights",
            ]),
    ],
    cLanguageStandard: .gnu17
)
