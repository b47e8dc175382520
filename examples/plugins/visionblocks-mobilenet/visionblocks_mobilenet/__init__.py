"""visionblocks-mobilenet: MobileNet image classification for visionblocks (an example plugin)."""
