"""The pose source: camera or video frames to `k11_pose` observations with MediaPipe + OpenCV."""
