enum _PlaceholderMeridianNode {}
