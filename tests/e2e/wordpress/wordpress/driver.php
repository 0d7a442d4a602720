<?php
// Runs one WordPress operation for the end-to-end tests (WordPress's own API, as wp-cli would; Debian has
// no wp-cli package): php driver.php <docroot> <json command>; prints one JSON result line.
if ( $argc < 3 ) {
	fwrite( STDERR, "usage: php driver.php <docroot> <json>\n" );
	exit( 2 );
}
$docroot = rtrim( $argv[1], '/' );
$cmd     = json_decode( $argv[2], true );
$_SERVER['HTTP_HOST']   = parse_url( $cmd['home'] ?? 'http://127.0.0.1', PHP_URL_HOST );
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_NAME'] = $_SERVER['HTTP_HOST'];
if ( 'install' === $cmd['op'] ) {
	define( 'WP_INSTALLING', true );
}
require $docroot . '/wp-load.php';

function e2e_admin() {
	$user = get_user_by( 'login', 'admin' );
	wp_set_current_user( $user->ID );
	return $user;
}

function e2e_comment( $id ) {
	$c = get_comment( (int) $id );
	if ( ! $c ) {
		return null;
	}
	return array(
		'id' => (int) $c->comment_ID, 'approved' => $c->comment_approved, 'author' => $c->comment_author,
		'content' => $c->comment_content, 'akismet_result' => get_comment_meta( $c->comment_ID, 'akismet_result', true ),
		'spamguard_guid' => get_comment_meta( $c->comment_ID, 'spamguard_guid', true ),
		'history' => get_comment_meta( $c->comment_ID, 'akismet_history', false ),
	);
}

$out = array();
switch ( $cmd['op'] ) {
	case 'install':
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		require_once ABSPATH . 'wp-admin/includes/plugin.php';
		$result = wp_install( 'SpamGuard e2e', 'admin', 'admin@example.com', true, '', $cmd['password'] );
		update_option( 'comment_previously_approved', 0 ); // publish ham from first-time commenters
		update_option( 'comment_moderation', 0 );
		switch_theme( 'sg-e2e' );
		$out['activated'] = array(
			'akismet'   => activate_plugin( 'akismet/akismet.php' ),
			'decisions' => activate_plugin( 'spamguard-decisions/spamguard-decisions.php' ),
		);
		$out['active'] = get_option( 'active_plugins' );
		$out['user_id'] = $result['user_id'];
		$out['versions'] = array( 'wordpress' => $GLOBALS['wp_version'], 'akismet' => AKISMET_VERSION );
		break;
	case 'options':
		foreach ( $cmd['names'] as $name ) {
			$out[ $name ] = get_option( $name );
		}
		break;
	case 'comments':
		$ids = get_comments( array( 'status' => 'all', 'fields' => 'ids', 'type' => 'comment' ) );
		$ids = array_merge( $ids, get_comments( array( 'status' => 'spam', 'fields' => 'ids' ) ) );
		sort( $ids );
		$out['comments'] = array_map( 'e2e_comment', $ids );
		break;
	case 'spam':     // what admin-ajax.php does for the "Spam" link: the spam=1 POST flag, then wp_spam_comment()
		e2e_admin();
		$_POST['spam'] = 1;
		$out['ok'] = (bool) wp_spam_comment( (int) $cmd['id'] );
		$out['comment'] = e2e_comment( $cmd['id'] );
		break;
	case 'unspam':   // ... and for "Not Spam": unspam=1, then wp_unspam_comment()
		e2e_admin();
		$_POST['unspam'] = 1;
		$out['ok'] = (bool) wp_unspam_comment( (int) $cmd['id'] );
		$out['comment'] = e2e_comment( $cmd['id'] );
		break;
	case 'poll':     // the decisions plugin's cron job, run now
		$result = spamguard_apply_decisions();
		$out['result'] = is_wp_error( $result ) ? $result->get_error_message() : $result;
		$out['cursor'] = get_option( 'spamguard_decisions_cursor' );
		break;
	default:
		fwrite( STDERR, "unknown op\n" );
		exit( 2 );
}
echo wp_json_encode( $out ), "\n";
