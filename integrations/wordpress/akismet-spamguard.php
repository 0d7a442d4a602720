<?php
/**
 * Plugin Name: Akismet → SpamGuard
 * Description: Sends the Akismet plugin's API requests to a SpamGuard server instead of rest.akismet.com.
 *
 * Install as a must-use plugin: copy to wp-content/mu-plugins/akismet-spamguard.php. The Akismet plugin has
 * no setting for its host, so this re-issues its requests (same method, body and headers, including
 * `Host: rest.akismet.com`, which SpamGuard accepts) to SPAMGUARD_URL. Define SPAMGUARD_URL in wp-config.php;
 * the default is a SpamGuard on the same machine.
 */

if ( ! defined( 'SPAMGUARD_URL' ) ) {
	define( 'SPAMGUARD_URL', 'http://127.0.0.1:8000' );
}

add_filter( 'pre_http_request', function ( $pre, $args, $url ) {
	$host = (string) wp_parse_url( $url, PHP_URL_HOST );
	if ( 'rest.akismet.com' !== $host && '.rest.akismet.com' !== substr( $host, -17 ) ) {
		return $pre;
	}
	return wp_remote_request( rtrim( SPAMGUARD_URL, '/' ) . wp_parse_url( $url, PHP_URL_PATH ), $args );
}, 10, 3 );
