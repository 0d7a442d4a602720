<?php
// Test-only must-use plugin: lets each simulated visitor have its own IP (X-E2E-Client-IP, as a reverse
// proxy would set REMOTE_ADDR) and turns off WordPress's 15-second comment flood check, so a test can post
// several comments from loopback. Nothing else about WordPress or Akismet is changed.
if ( isset( $_SERVER['HTTP_X_E2E_CLIENT_IP'] ) && filter_var( $_SERVER['HTTP_X_E2E_CLIENT_IP'], FILTER_VALIDATE_IP ) ) {
	$_SERVER['REMOTE_ADDR'] = $_SERVER['HTTP_X_E2E_CLIENT_IP'];
}
add_filter( 'wp_is_comment_flood', '__return_false', 99 );
