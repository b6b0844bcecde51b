/// The PainFace release, recorded in every file PainFace writes.
public enum PainFaceInfo {
    public static let version = "0.1.0"
}
